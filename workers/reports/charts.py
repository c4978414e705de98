"""Charts as inline SVG, drawn by matplotlib's SVG backend (no pyplot, no display).

Each series is drawn as markers in a group with an id (`gid`): the SVG holds one `<use>`
per data point under `<g id="...">`, which is what the tests count. Text stays text
(svg.fonttype none) and each chart salts its ids with its own name, so several SVGs
inline in one page never share an id."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

import matplotlib

matplotlib.use("svg")

from matplotlib import rc_context  # noqa: E402 - after choosing the backend
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.transforms import ScaledTranslation, blended_transform_factory  # noqa: E402

SIZE = (7.0, 2.8)  # inches: the A4 text width, a third of a page's height
MARGIN = timedelta(days=1)
XLABEL_BELOW = 19.0  # points: tick (3.5), its pad (3.5), a tick label (8) and the label's pad (4)
STYLE: dict[str, Any] = {
    "svg.fonttype": "none",
    "font.size": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.titley": 1.0,  # a fixed title place: auto placement measured every tick label again
}


@dataclass(frozen=True, slots=True)
class Series:
    gid: str
    label: str
    xs: Sequence[date] | Sequence[Decimal]
    ys: Sequence[Decimal | None]


def _floats(values: Sequence[Decimal | None]) -> list[float]:
    # Drawing only: the figures printed beside a chart are the stored Decimals, never these.
    return [float("nan") if v is None else float(v) for v in values]


def _svg(fig: Figure, salt: str) -> str:
    buffer = io.StringIO()
    with rc_context({"svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg")
    text = buffer.getvalue()
    text = text[text.index("<svg") :]  # the XML prolog and doctype do not belong inside HTML
    # clip paths are named from a counter: salted per chart, they stay unique in one page
    return re.sub(r'id="(p[0-9a-f]+)"', rf'id="{salt}-\1"', text).replace("url(#p", f"url(#{salt}-p")


def _figure(bottom: float = 0.2) -> tuple[Figure, Axes]:
    # Fixed margins, not a layout engine: constrained layout measures every label again and
    # doubled the drawing time (10,000 dossiers: benchmarks/dossiers.py).
    fig = Figure(figsize=SIZE)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=bottom)
    ax = fig.add_subplot()
    # Labels at fixed places: placed after the tick labels, each drawing measured every tick
    # label twice more (a quarter of a chart's time). x: under the tick labels (their height is
    # the font's); y: at the figure's left edge, clear of tick labels up to 0.5 inch wide.
    below = ScaledTranslation(0, -XLABEL_BELOW / 72, fig.dpi_scale_trans)
    ax.xaxis.set_label_coords(0.5, 0, transform=ax.transAxes + below)
    ax.yaxis.set_label_coords(0.01, 0.5, transform=blended_transform_factory(fig.transFigure, ax.transAxes))
    ax.yaxis.label.set_verticalalignment("top")
    return fig, ax


#: Per process, the figure of each chart (and band), kept and drawn again with the next dossier's
#: data: making a figure, its axes, ticks and legend was a third to half of a dossier's time.
_KEPT: dict[tuple[Any, ...], tuple[Figure, Axes, list[Line2D]]] = {}


def time_chart(
    name: str,
    title: str,
    series: Sequence[Series],
    *,
    span: tuple[date, date],
    band: tuple[Decimal, Decimal] | None = None,
    ylabel: str = "",
) -> str:
    """Lines over the dates of `span`, markers at each point; an optional band shaded (e.g. 0.80-1.25)."""
    with rc_context(cast(Any, STYLE)):
        key = (name, tuple(s.gid for s in series), *(str(b) for b in band or ()))
        kept = _KEPT.get(key)
        if kept is None:
            fig, ax, lines = _time_figure(series, band)
            _KEPT[key] = (fig, ax, lines)
        else:
            fig, ax, lines = kept
            legend = ax.get_legend()
            assert legend is not None  # made with the figure
            for line, s, text in zip(lines, series, legend.get_texts()[-len(lines) :], strict=True):
                line.set_data(cast(Any, list(s.xs)), _floats(s.ys))
                text.set_text(s.label)
            ax.relim()
            ax.autoscale_view(scalex=False)
        ax.set_xlim(cast(Any, span[0] - MARGIN), cast(Any, span[1] + MARGIN))
        ax.set_title(title, loc="left")
        ax.set_ylabel(ylabel)
        return _svg(fig, name)


def _time_figure(series: Sequence[Series], band: tuple[Decimal, Decimal] | None) -> tuple[Figure, Axes, list[Line2D]]:
    fig, ax = _figure()
    if band is not None:
        label = f"band {band[0].normalize()} to {band[1].normalize()}"
        ax.axhspan(float(band[0]), float(band[1]), color="#2e7d32", alpha=0.12, label=label)
    lines = [
        ax.plot(
            cast(Any, list(s.xs)),  # dates: matplotlib's date units
            _floats(s.ys),
            marker="o",
            markersize=3.5,
            linewidth=1.2,
            label=s.label,
            gid=s.gid,
        )[0]
        for s in series
    ]
    ax.legend(loc="upper left", fontsize=7)
    locator = AutoDateLocator(maxticks=7)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return fig, ax, lines


def scatter_chart(
    name: str,
    title: str,
    xs: Sequence[Decimal],
    ys: Sequence[Decimal],
    *,
    slope: Decimal | None,
    intercept: Decimal | None,
    band: tuple[Decimal, Decimal],
    xlabel: str,
    ylabel: str,
) -> str:
    """The points (group `scatter-points`), the fitted line ΔI = intercept + slope × ΔH (none
    without a slope) and the band's slopes through the origin (-band low dotted, -band high
    dashed). The figure is kept per process and drawn again, as a time chart's."""
    with rc_context(cast(Any, STYLE)):
        key = (name, ("scatter-points",))
        if key not in _KEPT:
            _KEPT[key] = _scatter_figure()
        fig, ax, (low, high, fit, points) = _KEPT[key]
        x = _floats(xs)
        span = [min([*x, 0.0]), max([*x, 0.0])]
        low.set_data(span, [-float(band[0]) * v for v in span])
        high.set_data(span, [-float(band[1]) * v for v in span])
        b, m = float(intercept or 0), float(slope) if slope is not None else float("nan")
        fit.set_data(span, [b + m * v for v in span])
        points.set_data(x, _floats(ys))
        legend = ax.get_legend()
        assert legend is not None  # made with the figure
        labels = (f"slope -{band[0]}", f"slope -{band[1]}", f"fit, slope {slope if slope is not None else '-'}")
        for text, label in zip(legend.get_texts(), labels, strict=True):
            text.set_text(label)
        ax.relim()
        ax.autoscale_view()
        ax.set_title(title, loc="left")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        return _svg(fig, name)


def _scatter_figure() -> tuple[Figure, Axes, list[Line2D]]:
    fig, ax = _figure(bottom=0.16)
    low = ax.plot([], [], ":", color="#2e7d32", linewidth=0.9)[0]
    high = ax.plot([], [], "--", color="#2e7d32", linewidth=0.9)[0]
    fit = ax.plot([], [], color="#c62828", linewidth=1.2)[0]
    points = ax.plot([], [], linestyle="none", marker="o", markersize=4, color="#1a4f8b", gid="scatter-points")[0]
    ax.legend(handles=[low, high, fit], labels=["", "", ""], loc="upper right", fontsize=7)
    return fig, ax, [low, high, fit, points]
