"""ToolChoiceFilter: the request's tool-call rules applied to a choice's stream of tool-call deltas.

- A named tool_choice keeps only that function's calls; `parallel_tool_calls: false` keeps only the
  first call. Kept calls are renumbered 0, 1, 2, ... so clients that assemble by index see no gaps.
- A call that repeats an earlier call of the same reply word for word (same name, same arguments
  text) ends the reply: small models, once they have made a call, tend to write it again and again
  until max_tokens. The repeat is not returned; `repeated` tells the caller to stop generating.
  While a call could still turn out to be such a repeat (its arguments so far are a prefix of an
  earlier same-named call's), its deltas are held back, then released as one delta once it differs.
"""

from __future__ import annotations

from toolwire.protocol.tool_calls import DeltaFunctionCall, DeltaToolCall


class ToolChoiceFilter:
    def __init__(self, named: str | None, parallel: bool):
        self.named, self.parallel = named, parallel
        self._out_index: dict[int, int | None] = {}  # parser's index -> ours (None: dropped)
        self._names: list[str | None] = []  # per kept call
        self._arguments: list[str] = []  # per kept call, the arguments text so far
        self._held: list[DeltaToolCall] = []  # the newest kept call's deltas, while it may be a repeat
        self.repeated = False

    @property
    def kept(self) -> int:
        return len(self._names)

    def __call__(self, calls: list[DeltaToolCall]) -> list[DeltaToolCall]:
        out: list[DeltaToolCall] = []
        for call in calls:
            if self.repeated:
                break
            if call.index not in self._out_index:
                out.extend(self.flush())  # a new call: the held one ended without repeating
                self._open(call)
            index = self._out_index[call.index]
            if index is None:
                continue
            call = call.model_copy(update={"index": index})
            self._arguments[index] += (call.function.arguments or "") if call.function else ""
            if self._held or (call.id is not None and self._earlier_arguments(index)):
                self._held.append(call)
                out.extend(self._settle(index))
            else:
                out.append(call)
        return out

    def flush(self) -> list[DeltaToolCall]:
        """At the end of the reply: a held call that never became a repeat (cut short) is released."""
        held, self._held = self._held, []
        return [_joined(held)] if held else []

    def _open(self, call: DeltaToolCall) -> None:
        name = call.function.name if call.function else None
        keep = (self.named is None or name == self.named) and (self.parallel or self.kept == 0)
        self._out_index[call.index] = self.kept if keep else None
        if keep:
            self._names.append(name)
            self._arguments.append("")

    def _earlier_arguments(self, index: int) -> list[str]:
        return [self._arguments[i] for i in range(index) if self._names[i] == self._names[index]]

    def _settle(self, index: int) -> list[DeltaToolCall]:
        """Decide about the held call: a repeat (drop it and end), still possibly one (keep holding),
        or a new call (release it)."""
        arguments = self._arguments[index]
        earlier = self._earlier_arguments(index)
        if arguments and arguments in earlier:
            self.repeated = True
            self._held = []
            del self._names[index], self._arguments[index]
            return []
        if any(text.startswith(arguments) for text in earlier):
            return []
        return self.flush()


def _joined(deltas: list[DeltaToolCall]) -> DeltaToolCall:
    first = deltas[0]
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    function = first.function or DeltaFunctionCall()
    return first.model_copy(update={"function": function.model_copy(update={"arguments": arguments})})
