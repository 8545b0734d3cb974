"""`python -m toolwire.evals.bfcl ...`: the same as `toolwire eval bfcl ...`."""

import sys

from toolwire.evals.bfcl.cli import main

sys.exit(main())
