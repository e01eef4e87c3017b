"""What the wrk benchmarks share: a Lua script that counts answers by status, and its result.

``bench/home_vs_bare.py`` and ``bench/load.py`` run ``wrk -s <script>``; the
script's ``done`` prints one ``BENCH_JSON {...}`` line (requests, duration,
p50/p99 latency in microseconds, socket errors, answers per status), which
:func:`parse_output` turns into a :class:`Run`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

#: ``init`` for a script that sends wrk's own request (the URL on the command line).
PLAIN_INIT = """
function init(args)
  counts = {}
end
"""

#: Count every answer by status (per thread), then print the totals as one JSON line.
COUNTING = r"""
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  local key = tostring(status)
  counts[key] = (counts[key] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(total) do
    parts[#parts + 1] = string.format('"%s":%d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, table.concat(parts, ",")))
end
"""


def script(init: str = PLAIN_INIT) -> str:
    """A wrk Lua script: ``init`` (and ``request``, if it has one) plus :data:`COUNTING`.

    ``init`` must create the global ``counts = {}`` that :data:`COUNTING` fills.
    """
    return init + COUNTING


@dataclass
class Run:
    """The figures of one wrk run (times in seconds and milliseconds)."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int]
    socket_errors: dict[str, int]

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def non_2xx(self) -> int:
        """Answers with a status outside 200-299."""
        return sum(n for status, n in self.statuses.items() if not status.startswith("2"))

    @property
    def server_errors(self) -> int:
        """Answers with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if status.startswith("5"))

    def problems(self) -> str:
        """'' when every answer was 2xx and no socket failed, else what went wrong."""
        bad = {status: n for status, n in self.statuses.items() if not status.startswith("2")}
        errors = {name: n for name, n in self.socket_errors.items() if n}
        return ", ".join(
            [f"{n} answers {status}" for status, n in sorted(bad.items())]
            + [f"{n} socket {name} errors" for name, n in sorted(errors.items())]
        )


def parse_output(stdout: str) -> Run | None:
    """The :class:`Run` in wrk's output, or ``None`` when the script printed none."""
    line = next((row for row in stdout.splitlines() if row.startswith("BENCH_JSON ")), None)
    if line is None:
        return None
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Run(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        statuses=data["statuses"],
        socket_errors=data["errors"],
    )
