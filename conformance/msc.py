"""The divergence report: a trace prefix as a message-sequence diagram, in one HTML file.

One lane per server, one row per spec step up to the divergence: a handled message is an
arrow from its sender's lane to the handler's (its type on it), a timeout or client write a
dot, a crash a red cross, a restart a green ring, a role change (state / zabState) a label
on the lane.  The divergent step is marked in red and named (step, action, fields); a
table below gives the spec's and the implementation's values of the differing fields only.
Self-contained (inline SVG and CSS): a person can open it from a CI artifact.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

__all__ = ["render_divergence"]

LANE, ROW, TOP, LEFT = 170, 26, 60, 250


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _svg(events: list[dict], n: int, bad_step: int | None, note: str = "") -> str:
    width = LEFT + LANE * n + 160  # room for the role labels right of the last lane
    height = TOP + ROW * (len(events) + 1) + ROW
    x = {s: LEFT + LANE * (s - 1) + LANE // 2 for s in range(1, n + 1)}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="monospace" font-size="11">',
        '<defs><marker id="a" markerWidth="8" markerHeight="8" refX="7" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker></defs>',
    ]
    for s in range(1, n + 1):
        out.append(f'<text x="{x[s]}" y="20" text-anchor="middle" font-weight="bold">server {s}</text>')
        out.append(f'<line x1="{x[s]}" y1="30" x2="{x[s]}" y2="{height - 10}" stroke="#bbb"/>')
    prev = None
    for k, ev in enumerate(events):
        y = TOP + ROW * k
        step, action, p, st = ev["step"], ev["action"], ev.get("params") or {}, ev.get("state") or {}
        if step == bad_step:
            out.append(f'<rect x="0" y="{y - ROW // 2 - 2}" width="{width}" height="{ROW}" fill="#fdd"/>')
            out.append(f'<text x="6" y="{y + ROW + 4}" fill="#c00" font-weight="bold">{_esc(note)}</text>')
        label = f"{step}: {action}{'(' + ', '.join(str(v) for v in p.values()) + ')' if p else ''}"
        color = "#c00" if step == bad_step else "#000"
        out.append(f'<text x="6" y="{y + 4}" fill="{color}">{_esc(label)}</text>')
        i, j = p.get("i"), p.get("j")
        if action.startswith("Handle") and i in x and j in x:
            kind = "NOTIFICATION" if action == "HandleNotification" else action[len("Handle") :]
            if i == j:
                out.append(
                    f'<path d="M{x[i]},{y - 8} C{x[i] + 40},{y - 8} {x[i] + 40},{y + 6} {x[i] + 3},{y + 6}" '
                    'fill="none" stroke="#333" marker-end="url(#a)"/>'
                )
            else:
                out.append(
                    f'<line x1="{x[j]}" y1="{y - 8}" x2="{x[i]}" y2="{y + 4}" stroke="#333" marker-end="url(#a)"/>'
                )
            out.append(
                f'<text x="{(x[i] + x[j]) // 2}" y="{y - 8}" text-anchor="middle" fill="#225">{_esc(kind)}</text>'
            )
        elif action == "Crash" and i in x:
            out.append(
                f'<text x="{x[i]}" y="{y + 5}" text-anchor="middle" fill="#c00" font-size="16">✗</text>'
            )
        elif action == "Restart" and i in x:
            out.append(f'<circle cx="{x[i]}" cy="{y}" r="6" fill="none" stroke="#080" stroke-width="2"/>')
        elif action in ("LinkBreak", "LinkHeal") and i in x and j in x:
            dash = "4,3" if action == "LinkBreak" else "1,0"
            out.append(
                f'<line x1="{x[i]}" y1="{y}" x2="{x[j]}" y2="{y}" stroke="#c60" stroke-dasharray="{dash}"/>'
            )
        elif i in x:
            out.append(f'<circle cx="{x[i]}" cy="{y}" r="4" fill="#555"/>')
        if st and prev:
            for s in range(1, n + 1):
                a = (prev["state"][s - 1], prev["zabState"][s - 1])
                b = (st["state"][s - 1], st["zabState"][s - 1])
                if a != b:
                    out.append(
                        f'<text x="{x[s] + 8}" y="{y + 12}" fill="#070">{_esc(b[0])}/{_esc(b[1])}</text>'
                    )
        if st:
            prev = st
    out.append("</svg>")
    return "\n".join(out)


def render_divergence(path: Path, divergence, events: list[dict], n: int) -> Path:
    """Write the report of ``divergence`` (a replay_impl.Divergence) to ``path``."""
    d = divergence
    names = ", ".join(sorted(d.fields))
    rows = []
    for var, where in sorted(d.fields.items()):
        for w, v in (
            sorted(where.items()) if isinstance(where, dict) and "spec" not in where else [("", where)]
        ):
            rows.append(
                f"<tr><td>{_esc(var)}</td><td>{_esc(w)}</td><td><pre>{_esc(json.dumps(v.get('spec'), indent=1))}</pre></td>"
                f"<td><pre>{_esc(json.dumps(v.get('impl'), indent=1))}</pre></td></tr>"
            )
    body = f"""<!doctype html><html><head><meta charset="utf-8">
<title>divergence at step {d.step}: {_esc(d.action)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #aaa;padding:4px;vertical-align:top}} pre{{margin:0;font-size:11px}}</style>
</head><body>
<h1>Trace {d.trace}: divergence at step {d.step}, {_esc(d.action)}({_esc(", ".join(f"{k}={v}" for k, v in d.params.items()))})</h1>
<p id="summary">step <b>{d.step}</b>, action <b>{_esc(d.action)}</b>, differing fields: <b>{_esc(names)}</b></p>
{_svg(events, n, d.step, f"step {d.step} differs in: {names}")}
<h2>Differing fields (spec vs implementation)</h2>
<table><tr><th>field</th><th>where</th><th>spec</th><th>implementation</th></tr>
{"".join(rows)}
</table></body></html>
"""
    path = Path(path)
    path.write_text(body, encoding="utf-8")
    return path
