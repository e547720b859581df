"""The result of ``predict``: a predicted data-limited scaling law, its summary and figure."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_path, write_json


def _num(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _int(x: Any) -> str:
    """An integer with thousands separators, or '?' when unknown."""
    return f"{int(x):,}" if isinstance(x, int | float) else "?"


def _ci(ci: object) -> str:
    """' (95% CI [lo, hi])' with three decimals, or '' when there is none."""
    if isinstance(ci, list | tuple) and len(ci) == 2 and None not in ci:
        return f" (95% CI [{float(ci[0]):.3f}, {float(ci[1]):.3f}])"
    return ""


@dataclass
class Prediction:
    """A predicted data-limited scaling law; ``to_dict()`` is prediction.json."""

    corpus: dict[str, Any]
    correlations: dict[str, Any]
    entropy: dict[str, Any]
    beta: dict[str, Any]
    gamma: dict[str, Any]
    alpha_D: dict[str, Any]
    horizon: dict[str, Any]
    predicted_loss: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    context: int | None = None
    target: dict[str, Any] | None = None
    measured: dict[str, Any] | None = None
    ten_x: dict[str, Any] | None = None
    entropy_model: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.alpha_D.get("value") is not None and np.isfinite(_num(self.alpha_D["value"]))

    def to_dict(self) -> dict[str, Any]:
        d = {
            "corpus": self.corpus,
            "correlations": self.correlations,
            "entropy": self.entropy,
            "beta": self.beta,
            "gamma": self.gamma,
            "alpha_D": self.alpha_D,
            "horizon": self.horizon,
            "predicted_loss": self.predicted_loss,
            "warnings": list(self.warnings),
            "context": self.context,
            "ten_x": self.ten_x,
        }
        if self.target is not None:
            d["target"] = self.target
        if self.measured is not None:
            d["measured"] = self.measured
        if self.entropy_model is not None:
            d["entropy_model"] = self.entropy_model
        return d

    def compare(self, measured: dict[str, Any]) -> None:
        """Attach a measured curve (:func:`.measured.load_measured`) and the exponents' gap."""
        self.measured = dict(measured)
        if self.ok and self.measured.get("alpha_D") is not None:
            m, p = self.measured, self.alpha_D
            self.measured["difference"] = {
                "measured_minus_predicted": _num(m["alpha_D"]) - p["value"],
                "combined_stderr": float(
                    np.hypot(_num(m.get("alpha_D_stderr")) or 0.0, p["stderr"])
                ),
            }

    def summary(self) -> list[str]:
        """The plain-text summary ``scalinglab predict`` prints under its table.

        The corpus, the 10x sentence, where the entropies came from, the horizon and
        its assumption, the calibration, the target, the measured exponent, and every
        warning (``warning: [code] text``).
        """
        c = self.corpus
        lines = [
            f"corpus: {c.get('source')} ({_int(c.get('tokens'))} tokens, vocabulary "
            f"{_int(c.get('vocab_size'))}, {c.get('tokenizer')})",
            self.sentence(),
            *self.entropy_lines(),
        ]
        if self.ok and self.ten_x:
            lines.append(
                f"horizon: n*(P) = {self.ten_x['n_star']:.3g} tokens at P = "
                f"{self.ten_x['P']:.3g}, growing as P^(1/(2 beta)). Assumption: "
                f"{self.horizon['assumption']}"
            )
            cal = self.horizon.get("calibration")
            if cal:
                lines.append(
                    f"calibrated at P0 = {cal['P0']:.4g} tokens (measured loss {cal['loss']:.3f} "
                    f"nats): threshold constant {cal['threshold_constant']:.3g}, horizon "
                    f"n*(P0) = {cal['n_star_at_P0']:.3g} instead of "
                    f"{cal['n_star_uncalibrated_at_P0']:.3g}; the curve uses the calibrated one"
                )
        t = self.target
        if t and t.get("P") is not None:
            lines.append(
                f"reaching a loss of {t['loss']} nats takes about {t['P']:.3g} tokens "
                f"(95% interval {t['ci95'][0]:.3g}..{t['ci95'][1]:.3g})"
            )
        m = self.measured
        if m and m.get("alpha_D") is not None and self.ok:
            lines.append(
                f"measured alpha_D = {m['alpha_D']:.3f}{_ci(m.get('alpha_D_ci95'))} against "
                f"predicted {self.alpha_D['value']:.3f} ± {self.alpha_D['stderr']:.3f}"
                f"{_ci(self.alpha_D.get('ci95'))}"
            )
        lines += [f"warning: {w}" for w in self.warnings]
        return lines

    def sentence(self) -> str:
        """One plain sentence on what 10x more data buys."""
        if not self.ok or not self.ten_x:
            return "No data-limited law could be predicted for this corpus (see warnings)."
        t = self.ten_x
        head = (
            f"10x more data (from {t['P']:.3g} to {10 * t['P']:.3g} tokens) lowers the loss by "
            f"about {t['percent']:.1f}% (95% band {t['percent_ci95'][0]:.1f}-"
            f"{t['percent_ci95'][1]:.1f}%"
        )
        n_star, trusted = t.get("n_star"), t.get("entropy_trusted_to_n")
        short = t.get("short_windows") or []
        rough = f" Treat it as rough: {' and '.join(short)}." if short else ""
        if n_star is not None and trusted is not None and n_star > trusted:
            # Both horizons beyond the measured entropies: the percentage is the law's own
            # 1 - 10^-alpha_D, and the levels are extrapolated; say so rather than imply
            # a measurement.
            return (
                f"{head}) if H_n ~ n^-gamma holds from n = {trusted:g} out to the horizon "
                f"n* = {n_star:.3g}: that is 1 - 10^-alpha_D with alpha_D = "
                f"{t.get('alpha_D', self.alpha_D['value']):.3f}, and the levels, "
                f"{t['loss']:.3g} to {t['loss_10x']:.3g} nats, are that extrapolation.{rough}"
            )
        return f"{head}; from {t['loss']:.3f} to {t['loss_10x']:.3f} nats).{rough}"

    def entropy_lines(self) -> list[str]:
        """Where the entropies came from, and which law form gamma uses (plain lines)."""
        g, lines = self.gamma, []
        m = self.entropy_model
        if m:
            tr = m.get("training") or {}
            mod = m.get("model") or {}
            what = {
                "reference": "a reference model trained here",
                "hf-checkpoint": f"the checkpoint {mod.get('path')}",
                "file": f"the per-position losses in {mod.get('path')}",
            }.get(m.get("source", ""), "a model")  # with the path: not SOURCE_WORDS' phrases
            shape = (
                f" ({mod.get('n_layer')} layers, width {mod.get('n_embd')}, "
                f"{_num(mod.get('params')):,.0f} parameters, T = {m['n'][-1]})"
                if mod.get("n_layer")
                else ""
            )
            run = (
                f"; {tr['steps']} steps, {tr['tokens_seen']:,} tokens "
                f"({tr['epochs']:.2f} epochs) in {tr['wall_time_s']:.0f} s on {tr['device']}, "
                f"held-out loss {tr['best_val_loss']:.3f} nats"
                if tr.get("steps")
                else ""
            )
            lines.append(f"entropies: upper bounds from {what}{shape}{run}")
        if g.get("source") == "model":
            lines.append(
                f"gamma: {g.get('form')} form, fitted on n = 1..{g['horizon']['n']} (the bound's "
                f"horizon); {g.get('choice')}"
            )
            for name, f in (self.alpha_D.get("forms") or {}).items():
                lines.append(
                    f"  alpha_D with gamma from the {name} fit: {f['value']:.3f} ± "
                    f"{_num(f['stderr']):.3f} (gamma {f['gamma']:.3f})"
                )
        return lines

    def summary_table(self) -> Any:
        """A Rich table of beta, gamma and alpha_D with intervals and windows."""
        from rich.table import Table

        t = Table(title=f"data-limited scaling law of {self.corpus.get('source')}")
        for col in ("quantity", "value", "± stderr", "95% interval", "window"):
            t.add_column(col)

        def row(name: str, d: dict[str, Any], window: str) -> None:
            v, se, ci = d.get("value"), d.get("stderr"), d.get("ci95") or [None, None]
            if v is None:
                t.add_row(name, "undefined", "", "", window)
                return
            ci_s = f"[{_num(ci[0]):.3f}, {_num(ci[1]):.3f}]" if ci[0] is not None else ""
            t.add_row(name, f"{v:.3f}", f"{_num(se):.3f}", ci_s, window)

        bw = self.beta.get("window") or [None, None]
        gw = self.gamma.get("window") or [None, None]
        row("beta (correlations ~ n^-beta)", self.beta, f"lags {bw[0]}..{bw[1]}")
        row("gamma (H_n ~ n^-gamma)", self.gamma, f"n {gw[0]}..{gw[1]}")
        row("alpha_D = gamma / (2 beta)", self.alpha_D, "")
        return t

    def save(self, out_dir: str | os.PathLike[str]) -> list[Path]:
        """Write prediction.json and prediction.png (predicted curve with band and horizon)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [write_json(out / "prediction.json", self.to_dict())]
        if self.ok:
            paths.append(self.plot(out / "prediction.png"))
        return paths

    def plot(self, path: str | os.PathLike[str]) -> Path:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        P = np.asarray(self.predicted_loss["P"], float)
        L = np.asarray(self.predicted_loss["loss"], float)
        lo = np.asarray(self.predicted_loss["lo"], float)
        hi = np.asarray(self.predicted_loss["hi"], float)
        n_star = np.asarray(self.horizon["n_star"], float)
        trusted = _num((self.ten_x or {}).get("entropy_trusted_to_n"))
        fig, ax = plt.subplots(figsize=(7.5, 4.8))
        ax.fill_between(P, lo, hi, color="tab:blue", alpha=0.2, label="95% band")
        a = self.alpha_D
        label: str | None = (
            f"predicted L(P) = U(n*(P)) (upper bounds on H_n), alpha_D = {a['value']:.3f} "
            f"± {a['stderr']:.3f}"
        )
        inside = n_star <= trusted if np.isfinite(trusted) else np.ones(P.size, bool)
        # Solid where the horizon lies inside the trusted entropies, dashed where the curve
        # extrapolates H_n with the fitted law (the segments share their end point).
        if inside.any():
            k = int(np.flatnonzero(inside)[-1])
            ax.plot(P[: k + 1], L[: k + 1], "-", color="tab:blue", label=label)
            label = None
            rest = slice(k, None)
        else:
            rest = slice(0, None)
        if not inside.all():
            ax.plot(P[rest], L[rest], "--", color="tab:blue", label=label)
            ax.plot(
                [], [], "--", color="tab:blue", label=f"H_n extrapolated beyond n = {trusted:g}"
            )
        levels = [L]
        if self.measured:
            levels.append(np.asarray(self.measured["loss"], float))
        levels_all = np.concatenate(levels)
        levels_all = levels_all[np.isfinite(levels_all) & (levels_all > 0)]
        if levels_all.size:
            # The band can span many decades when gamma is poorly constrained; the axis
            # follows the curve (and the measurements), at most a decade beyond them.
            band = np.concatenate([lo, hi])
            band = band[np.isfinite(band) & (band > 0)]
            y_lo = max(levels_all.min() / 10, band.min() / 1.2 if band.size else 0)
            y_hi = min(levels_all.max() * 10, band.max() * 1.2 if band.size else np.inf)
            ax.set_ylim(min(y_lo, levels_all.min() / 1.2), max(y_hi, levels_all.max() * 1.2))
        if self.measured:
            ax.plot(
                self.measured["P"],
                self.measured["loss"],
                "o",
                color="k",
                label=f"measured (alpha_D = {_num(self.measured.get('alpha_D')):.3f})",
            )
        h_inf = self.predicted_loss.get("h_inf")
        if h_inf:
            ax.axhline(h_inf, color="tab:green", ls=":", lw=1, label=f"fitted H_inf = {h_inf:.3g}")
        cal = self.horizon.get("calibration")
        if cal:
            ax.errorbar(
                [cal["P0"]],
                [cal["loss"]],
                yerr=[_num(cal.get("loss_stderr")) or 0.0],
                fmt="s",
                color="tab:red",
                label=f"calibration run at P0 = {cal['P0']:.4g}",
            )
        ax.axvline(self.corpus.get("tokens", np.nan), color="0.5", ls=":", label="this corpus")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training tokens P")
        ax.set_ylabel("test loss (nats per token)")
        ax2 = ax.twinx()
        ax2.plot(P, self.horizon["n_star"], "--", color="tab:orange")
        ax2.set_yscale("log")
        ax2.set_ylabel("horizon n*(P) (tokens)", color="tab:orange")
        if self.context:
            ax2.axhline(self.context, color="tab:orange", ls=":", lw=1)
        ax.legend(fontsize=8, loc="lower left")
        ax.set_title(f"{self.corpus.get('source')} ({self.corpus.get('tokenizer')})", fontsize=10)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=120)
        plt.close(fig)
        return Path(path)
