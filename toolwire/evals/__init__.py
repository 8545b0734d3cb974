"""Measuring servers from the outside, over their OpenAI-compatible HTTP API: the BFCL tool-calling
evaluation (`toolwire eval bfcl`, in `bfcl/`), and the wire helpers that `toolwire bench` shares."""
