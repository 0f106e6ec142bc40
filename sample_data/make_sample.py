"""Generate sample_data/energy.csv: a realistic regression sample for the README walkthrough.

2,500 hourly readings of a (simulated) office building: outdoor temperature (C),
relative humidity (%), wind speed (m/s), hour of day and a weekday flag, and the
electric load in kW. The load has a smooth, non-linear dependence on the
inputs (cooling above about 18 C, heating below, an occupancy curve over the
day, a wind chill term) plus Gaussian noise, which is what kernel ridge
regression is good at. Deterministic: seed 2024.

    python sample_data/make_sample.py
    python sample_data/make_sample.py --rows 1000000 --parts 8 --out big/   # big/part-000.csv ...

The second form writes a larger sample of the same building as several files of one header, as a
cluster reads them (see "Running on a cluster" in the README).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

N_ROWS = 2500
SEED = 2024


def make(n: int = N_ROWS, seed: int = SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    hour = rng.integers(0, 24, n)
    weekday = (rng.random(n) < 5 / 7).astype(int)
    season = rng.uniform(0, 2 * np.pi, n)
    temp = 12 - 10 * np.cos(season) + 4 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 3, n)
    humidity = np.clip(65 - 1.2 * (temp - 12) + rng.normal(0, 10, n), 15, 100)
    wind = rng.gamma(2.0, 2.0, n)
    occupancy = weekday * np.exp(-0.5 * ((hour - 13) / 3.5) ** 2)
    cooling = 2.2 * np.maximum(temp - 18, 0) ** 1.3 * (1 + humidity / 200)
    heating = 1.6 * np.maximum(15 - temp, 0) * (1 + 0.04 * wind)
    load = 40 + 55 * occupancy + cooling + heating + 6 * np.sin(hour / 24 * 2 * np.pi) + rng.normal(0, 3, n)
    return {
        "temperature": np.round(temp, 2),
        "humidity": np.round(humidity, 1),
        "wind_speed": np.round(wind, 2),
        "hour": hour,
        "weekday": weekday,
        "load_kw": np.round(load, 2),
    }


def _write(path: Path, cols: dict[str, np.ndarray], names: list[str], start: int, stop: int) -> None:
    with path.open("w") as fh:
        fh.write(",".join(names) + "\n")
        for i in range(start, stop):
            fh.write(",".join(str(cols[c][i]) for c in names) + "\n")


def write_parts(out: Path, n: int, parts: int) -> None:
    """``n`` rows as ``parts`` files ``out/part-000.csv`` ... of (nearly) equal size."""
    cols = make(n)
    names = list(cols)
    out.mkdir(parents=True, exist_ok=True)
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    for p in range(parts):
        _write(out / f"part-{p:03d}.csv", cols, names, edges[p], edges[p + 1])
    print(f"wrote {parts} files of about {n // parts} rows to {out}/")


def main() -> None:
    ap = argparse.ArgumentParser(description="Write the energy sample.")
    ap.add_argument("--rows", type=int, default=None, help="rows of a larger sample (with --out)")
    ap.add_argument("--parts", type=int, default=1, help="files to split it into")
    ap.add_argument("--out", type=Path, default=None, help="folder for part-000.csv ...")
    args = ap.parse_args()
    if args.out is not None:
        write_parts(args.out, args.rows or N_ROWS, max(1, args.parts))
        return
    cols = make()
    out = Path(__file__).with_name("energy.csv")
    names = list(cols)
    with out.open("w") as fh:
        fh.write(",".join(names) + "\n")
        for i in range(N_ROWS):
            fh.write(",".join(str(cols[c][i]) for c in names) + "\n")
    new = Path(__file__).with_name("energy_new.csv")
    with new.open("w") as fh:
        fh.write(",".join(names[:-1]) + "\n")
        for i in range(10):
            fh.write(",".join(str(cols[c][i]) for c in names[:-1]) + "\n")
    print(f"wrote {out} ({N_ROWS} rows) and {new} (10 rows)")


if __name__ == "__main__":
    main()
