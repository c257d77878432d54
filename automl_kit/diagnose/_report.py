"""A self-contained HTML report of a :class:`Diagnosis` (plots embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from automl_kit.diagnose._errors import error_table, plot_error_grid

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #bbb;padding:3px 8px;
text-align:right;font-size:.9em} th{background:#f0f0f0} td.l,th.l{text-align:left}
.verdict{font-size:1.25em;padding:.6em 1em;background:#fff4d6;border-left:6px solid #e0a000}
.ok{background:#e3f6e3;border-left-color:#2a9d2a} .high{color:#b00020;font-weight:bold}
img{max-width:100%} td.l{max-width:24em} td code{overflow-wrap:anywhere;font-size:.85em}
"""


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _png(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def plot_confusion(confusion: np.ndarray, class_names, path: Path, title: str) -> Path:
    """A confusion-matrix heat map with counts (rows: true class, columns: predicted)."""
    from automl_kit.utils.plotting import pyplot

    plt = pyplot()
    k = len(class_names)
    size = min(2 + 0.55 * k, 12)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(confusion, cmap="Blues")
    ax.set_xticks(range(k), class_names, rotation=90 if k > 10 else 0, fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if k <= 20:
        top = confusion.max() or 1
        for i in range(k):
            for j in range(k):
                color = "white" if confusion[i, j] > top / 2 else "black"
                ax.text(
                    j, i, int(confusion[i, j]), ha="center", va="center", fontsize=7, color=color
                )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _table(header: list[str], rows: list[list], left: int = 1, cls: str = "") -> str:
    head = "".join(
        f'<th class="{"l" if i < left else ""}">{html.escape(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f'<table class="{cls}"><tr>{head}</tr>{body}</table>'


def render_html(diagnosis, images: dict[str, Path]) -> str:
    d = diagnosis
    e = html.escape
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>automl-kit diagnosis</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Model diagnosis</h1>",
    ]
    if d.dataset:
        parts.append(f"<p>Data set <b>{e(str(d.dataset.get('name')))}</b>; ")
        parts.append(
            f"model <b>{e(str((d.model or {}).get('name', '?')))}</b>.</p>" if d.model else "</p>"
        )
    ok = "ok" if not d.focus else ""
    parts.append(f'<h2>Verdict</h2><p id="verdict" class="verdict {ok}">{e(d.verdict)}</p>')
    for note in d.notes:
        parts.append(f"<p><i>{e(note)}</i></p>")
    parts.append("<h2>Errors</h2>")
    parts.append(
        _table(
            ["error", "rate"],
            [[e(k.replace("_", " ")), _pct(v)] for k, v in d.errors.items() if v is not None],
        )
    )
    rows = []
    for name, value in d.components.items():
        if value is None:
            continue
        flag = d.high.get(name)
        label = "high" if flag else ("" if name == "bias" else "low")
        rows.append(
            [e(name.replace("_", " ")), _pct(value), f'<span class="{label}">{label}</span>']
        )
    parts.append(_table(["component", "value", f"(tolerance {_pct(d.tolerance)})"], rows))
    parts.append('<h2>Recommendations</h2><div id="recommendations">')
    if d.recommendations:
        parts.append(
            _table(
                ["#", "problem", "what to try", "Keras setting", "toolkit command", "note"],
                [
                    [
                        str(r.rank),
                        e(r.problem.replace("_", " ")),
                        e(r.action),
                        f"<code>{e(r.keras)}</code>" if r.keras else "",
                        f"<code>{e(r.command)}</code>" if r.command else "",
                        e(r.note),
                    ]
                    for r in d.recommendations
                ],
                left=6,
            )
        )
    else:
        parts.append("<p>None needed: bias, variance and mismatch are within tolerance.</p>")
    parts.append("</div>")
    for split, report in d.reports.items():
        s = report.summary()
        parts.append(f'<h2>Per-class metrics ({e(split)} set)</h2><div id="per-class-{split}">')
        parts.append(
            f"<p>accuracy {_pct(s['accuracy'])}; macro F1 {_pct(s['macro']['f1'])}; weighted F1 "
            f"{_pct(s['weighted']['f1'])}; harmonic mean of per-class accuracy "
            f"{_pct(s['harmonic_mean_recall'])}</p>"
        )
        parts.append(
            _table(
                ["class", "precision", "recall", "F1", "support"],
                [
                    [
                        e(c["class"]),
                        _pct(c["precision"]),
                        _pct(c["recall"]),
                        _pct(c["f1"]),
                        c["support"],
                    ]
                    for c in s["per_class"]
                ],
            )
        )
        parts.append(
            f'</div><h2>Confusion matrix ({e(split)} set)</h2><div id="confusion-{split}">'
        )
        names = s["class_names"]
        parts.append(
            _table(
                ["true \\ predicted", *names],
                [[e(n), *row] for n, row in zip(names, s["confusion_matrix"])],
            )
        )
        if f"confusion_{split}" in images:
            parts.append(_png(images[f"confusion_{split}"]))
        if s["top_confusions"]:
            parts.append(
                "<p>Most confused: "
                + "; ".join(
                    f"{e(t['true'])} as {e(t['predicted'])} ({t['count']})"
                    for t in s["top_confusions"]
                )
                + "</p>"
            )
        parts.append("</div>")
    errors = d.error_analysis.get("confident_errors") or []
    if errors:
        parts.append("<h2>Most confidently wrong dev examples</h2>")
        if "errors" in images:
            parts.append(_png(images["errors"]))
        names = d.error_analysis.get("class_names") or []
        label = (lambda c: names[c]) if names else str
        parts.append(
            _table(
                ["row", "true", "predicted", "confidence"],
                [
                    [
                        x["row"],
                        e(label(x["true"])),
                        e(label(x["predicted"])),
                        f"{x['confidence']:.3f}",
                    ]
                    for x in errors
                ],
            )
        )
        parts.append(
            "<p>Tag them by category in <code>errors_to_tag.csv</code> (the decks' error-analysis "
            "table) and count with <code>automl_kit.diagnose.tally_error_categories</code>.</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(diagnosis, root: Path) -> Path:
    """Plots (PNG), ``errors_to_tag.csv`` and the self-contained ``report.html`` in ``root``."""
    root = Path(root)
    images: dict[str, Path] = {}
    for split, report in diagnosis.reports.items():
        images[f"confusion_{split}"] = plot_confusion(
            report.confusion, report.class_names, root / f"confusion_{split}.png", f"{split} set"
        )
    analysis = diagnosis.error_analysis
    errors = analysis.get("confident_errors") or []
    if errors:
        names = analysis.get("class_names")
        error_table(errors, root / "errors_to_tag.csv", names)
        pictures = analysis.get("images")
        if pictures is not None and len(pictures) == len(errors) and np.asarray(pictures).ndim >= 3:
            images["errors"] = plot_error_grid(
                pictures, errors, root / "confident_errors.png", names
            )
    path = root / "report.html"
    path.write_text(render_html(diagnosis, images), encoding="utf-8")
    return path
