"""MLflow pyfunc loader for churnkit models: scores raw customer rows as `churnkit predict` does.

Pure Python (numpy + pandas); it reads churnkit's two JSON files and never runs churnkit's Rust
code. An MLmodel file uses it with

    flavors:
      python_function: {loader_module: churnkit_pyfunc, code: code, env: ...}

and the model directory (the `data_path` MLflow passes, there being no `data:` key) holding:

`preprocessor.json` -- format "churnkit-preprocessor", format_version 2:
  schema.numeric / schema.categorical  the feature columns (model order: numeric, then categorical)
  schema.na_values       cell texts meaning "missing" (exact match after trimming); blank is missing
  schema.valid_ranges    {column: {min?, max?}}: a value outside is missing
  features[]             per feature, in model column order, either
    {kind: "numeric", name, fill: {product_of: [a, b] | null, median | null},
     clip: {lower, upper, ...} | null, mean, std}
        missing -> a * b when both are present -> median -> else NaN; clip; (v - mean) / std
    {kind: "categorical", name, categories (sorted), most_frequent}
        the index of the value in `categories`; missing or unseen -> NaN

`churn_model.json` -- format "churnkit-model", format_version 3 (2 lacks `cover` and `calibration`):
  kind                   "random-forest" or "decision-tree" (one tree); scored the same way
  feature_names          must equal the preprocessor's features
  trees[]                flat arrays per node: feature (-1 at a leaf), threshold, left, right,
                         value (class-1 share at a leaf), missing_left. A row goes right when
                         x > threshold (left when x <= threshold); NaN goes left iff missing_left.
  calibration            optional {method: "isotonic", x, y} or {method: "platt", a, b}

The score is the leaf values summed over the trees in order, divided by the tree count, then
mapped by the calibration if any. `churn_prediction` is 1 when the probability > threshold (0.5).

Cells are read as the CSV reader reads text: every cell becomes the text a CSV would hold
(str as is; ints as digits; floats in their shortest round-trip form; NaN/None/NA missing), which
is trimmed of Unicode white space; blank or a missing marker is missing. Numeric columns then
follow Rust's `f64` grammar (`[+-]digits[.digits][e[+-]digits]`, no `_` or non-ASCII digits;
inf/NaN are errors). Two things a CSV file holds but a DataFrame may have lost are recovered for
categorical columns: a bool takes the spelling of the matching known category (True/true/TRUE,
else pandas' "True"), and an integral float (1.0 from a column with NaN) the integer's text
when that is a known category and the float's text is not.
"""
import json
import math
import os
import re

import numpy as np
import pandas as pd

MODEL_FILE = "churn_model.json"
PREPROCESSOR_FILE = "preprocessor.json"
MODEL_FORMAT, MODEL_VERSIONS = "churnkit-model", (2, 3)
PREPROCESSOR_FORMAT, PREPROCESSOR_VERSIONS = "churnkit-preprocessor", (2,)
UNKNOWN_POLICIES = ("missing", "error", "most_frequent")
# Rust's char::is_whitespace (Unicode White_Space), which str::trim strips; Python's strip()
# would also strip \x1c-\x1f.
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + \
      "\u2028\u2029\u202f\u205f\u3000"
# What Rust's `str::parse::<f64>` accepts.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)",
                     re.ASCII | re.IGNORECASE)


def _read_versioned(path, fmt, versions, what):
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise ValueError(f"{path}: no churnkit {what} file here") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON (corrupt or truncated file?): {e}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise ValueError(f"{path}: not a churnkit {what} file (format is not '{fmt}')")
    v = doc.get("format_version")
    if type(v) is not int or v not in versions:
        raise ValueError(f"{path}: {what} format_version {v} is not supported "
                         f"(this loader reads {', '.join(map(str, versions))})")
    return doc


def _pack(trees, n_features):
    """All trees in flat arrays (node ids global), leaves looping to themselves, plus depth."""
    feat, thr, left, right, mright, value, roots = [], [], [], [], [], [], []
    depth, base = 0, 0
    for i, t in enumerate(trees):
        f = np.asarray(t["feature"], dtype=np.int64)
        n = len(f)
        cols = [np.asarray(t[k]) for k in ("threshold", "left", "right", "value", "missing_left")]
        if n == 0 or any(len(c) != n for c in cols) or len(t.get("cover", [])) not in (0, n):
            raise ValueError(f"tree {i}: node arrays are empty or of different lengths")
        th, lc, rc, val, ml = cols
        th, val = th.astype(np.float64), val.astype(np.float64)
        lc, rc, ml = lc.astype(np.int64), rc.astype(np.int64), ml.astype(bool)
        leaf, ids = f < 0, np.arange(n)
        if ((f >= n_features) | (f < -1)).any() or not np.isfinite(th[~leaf]).all():
            raise ValueError(f"tree {i}: a node has an invalid feature or threshold")
        if ((~leaf) & ((lc <= ids) | (rc <= ids) | (lc >= n) | (rc >= n))).any():
            raise ValueError(f"tree {i}: a node has an invalid child index")
        if not ((val[leaf] >= 0) & (val[leaf] <= 1)).all():
            raise ValueError(f"tree {i}: a leaf probability is outside [0, 1]")
        d = np.zeros(n, dtype=np.int64)
        for j in np.flatnonzero(~leaf):  # children have larger indices
            d[lc[j]] = d[rc[j]] = d[j] + 1
        depth = max(depth, int(d.max()))
        # A leaf compares feature 0 with +inf (never greater) and sends everything to itself.
        feat.append(np.where(leaf, 0, f))
        thr.append(np.where(leaf, np.inf, th))
        left.append(np.where(leaf, ids, lc) + base)
        right.append(np.where(leaf, ids, rc) + base)
        mright.append(~leaf & ~ml)
        value.append(val)
        roots.append(base)
        base += n
    cat = np.concatenate
    return (cat(feat), cat(thr), cat(left), cat(right), cat(mright), cat(value),
            np.array(roots, dtype=np.int64), depth)


class ChurnkitModel:
    """A churnkit preprocessor and model, scoring raw customer rows (see the module docstring)."""

    def __init__(self, model_dir):
        self.model_dir = model_dir
        pre = _read_versioned(os.path.join(model_dir, PREPROCESSOR_FILE), PREPROCESSOR_FORMAT,
                              PREPROCESSOR_VERSIONS, "preprocessor")
        model = _read_versioned(os.path.join(model_dir, MODEL_FILE), MODEL_FORMAT,
                                MODEL_VERSIONS, "model")
        try:
            self._init(pre, model)
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"{model_dir}: invalid churnkit files ({type(e).__name__}: {e})") from None

    def _init(self, pre, model):
        schema = pre["schema"]
        self.na_values = frozenset(schema["na_values"])
        self.numeric, self.categorical = list(schema["numeric"]), list(schema["categorical"])
        self.valid_ranges = {c: (r.get("min"), r.get("max")) for c, r in schema.get("valid_ranges", {}).items()}
        self.features = pre["features"]
        self.feature_names = [f["name"] for f in self.features]
        kinds = ["numeric"] * len(self.numeric) + ["categorical"] * len(self.categorical)
        if self.feature_names != self.numeric + self.categorical or [f["kind"] for f in self.features] != kinds:
            raise ValueError("preprocessor features do not match its schema's numeric and categorical columns")
        for f in self.features:
            if f["kind"] == "numeric" and not (math.isfinite(f["mean"]) and f["std"] > 0):
                raise ValueError(f"feature '{f['name']}' has an invalid scaler")
            if f["kind"] == "categorical":
                cats = f["categories"]
                # Rust binary-searches the list: that is an exact lookup only when it is sorted.
                if not cats or any(a >= b for a, b in zip(cats, cats[1:])):
                    raise ValueError(f"feature '{f['name']}': categories are empty or not sorted")
                f["_codes"] = {c: float(i) for i, c in enumerate(cats)}
                f["_fallback"] = float(cats.index(f["most_frequent"])) if f["most_frequent"] in cats else 0.0
        self.kind = model["kind"]
        if self.kind not in ("random-forest", "decision-tree"):
            raise ValueError(f"unknown model kind '{self.kind}'")
        if model["feature_names"] != self.feature_names:
            raise ValueError(f"the model's features {model['feature_names']} are not the "
                             f"preprocessor's {self.feature_names}")
        if not model["trees"]:
            raise ValueError("the model has no trees")
        self.n_trees = len(model["trees"])
        self._forest = _pack(model["trees"], len(self.feature_names))
        self.calibration = model.get("calibration")
        c = self.calibration
        if c is not None:
            if c["method"] == "isotonic":
                x, y = np.asarray(c["x"], dtype=np.float64), np.asarray(c["y"], dtype=np.float64)
                if not (len(x) and len(x) == len(y) and (np.diff(x) > 0).all() and (np.diff(y) >= 0).all()
                        and ((y >= 0) & (y <= 1)).all()):
                    raise ValueError("the isotonic calibration map is not increasing within [0, 1]")
                self._iso = (x, y)
            elif c["method"] == "platt":
                if not (math.isfinite(c["a"]) and math.isfinite(c["b"])):
                    raise ValueError("the Platt calibration has a non-finite parameter")
            else:
                raise ValueError(f"unknown calibration method '{c['method']}'")

    # -- reading cells -------------------------------------------------------------------------

    @staticmethod
    def _text(v, cats=None):
        """The text a CSV cell would hold for value `v` (None: missing), before trimming."""
        if isinstance(v, str):
            return v
        if v is None or v is pd.NA or v is pd.NaT:
            return None
        if isinstance(v, (bool, np.bool_)):
            word = "true" if v else "false"
            return next((c for c in (cats or ()) if c.lower() == word), word.capitalize())
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        if isinstance(v, (float, np.floating)):
            if math.isnan(v):
                return None
            s = str(v) if isinstance(v, (np.float32, np.float16)) else repr(float(v))
            if cats is not None and s not in cats and math.isfinite(v) and float(v).is_integer():
                i = str(int(v))
                return i if i in cats else s
            return s
        if isinstance(v, bytes):
            return v.decode("utf-8")
        try:
            if pd.isna(v):
                return None
        except (TypeError, ValueError):
            pass
        return str(v)

    def _cells(self, series, cats=None):
        """Trimmed texts (object array), None where blank or a missing marker."""
        out = np.empty(len(series), dtype=object)
        memo = {}
        for i, v in enumerate(series.to_numpy(dtype=object)):
            key = (type(v), v) if isinstance(v, (str, int, np.integer)) and not isinstance(v, bool) else None
            if key is not None and key in memo:
                out[i] = memo[key]
                continue
            s = self._text(v, cats)
            if s is not None:
                s = s.strip(_WS)
                if not s or s in self.na_values:
                    s = None
            out[i] = s
            if key is not None:
                memo[key] = s
        return out

    def _numbers(self, name, series):
        """A numeric column as float64, NaN where missing; a non-number is a ValueError."""
        dt = series.dtype
        if dt.kind == "f" and dt.itemsize == 8 or dt.kind in "iu":
            # repr() of a float and str() of an int parse back to exactly these doubles.
            x = series.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
            bad = np.flatnonzero(np.isinf(x))
        else:
            cells = self._cells(series)
            x = np.full(len(cells), np.nan)
            memo, bad = {}, []
            for i, s in enumerate(cells):
                if s is None:
                    continue
                if s not in memo:
                    memo[s] = float(s) if _NUMBER.fullmatch(s) else None
                v = memo[s]
                if v is None or not math.isfinite(v):
                    what = "a number" if v is None else "a finite number"
                    raise ValueError(f"column '{name}', row {i}: '{s}' is not {what}")
                x[i] = v
        if len(bad):
            i = int(bad[0])
            raise ValueError(f"column '{name}', row {i}: '{series.iloc[i]}' is not a finite number")
        if name in self.valid_ranges:
            lo, hi = self.valid_ranges[name]
            out = np.zeros(len(x), dtype=bool)
            if lo is not None:
                out |= x < lo
            if hi is not None:
                out |= x > hi
            x[out] = np.nan
        return x

    # -- the transform and the forest -----------------------------------------------------------

    def transform(self, df, unknown="missing"):
        """The feature matrix (rows x features, model order) of raw rows in DataFrame `df`."""
        if unknown not in UNKNOWN_POLICIES:
            raise ValueError(f"unknown_category '{unknown}': expected one of {', '.join(UNKNOWN_POLICIES)}")
        names = [str(c).strip(_WS) for c in df.columns]
        dup = next((c for i, c in enumerate(names) if c in names[:i]), None)
        if dup is not None:
            raise ValueError(f"column '{dup}' appears more than once (after trimming names)")
        cols = dict(zip(names, range(len(names))))
        missing = [c for c in self.numeric + self.categorical if c not in cols]
        if missing:
            raise ValueError(f"missing required column{'s' if len(missing) > 1 else ''} "
                             f"{', '.join(repr(c) for c in missing)} (the table has: {', '.join(names[:10])})")
        col = lambda c: df.iloc[:, cols[c]]
        raw = {c: self._numbers(c, col(c)) for c in self.numeric}
        x = np.empty((len(df), len(self.features)), dtype=np.float64)
        for j, f in enumerate(self.features):
            name = f["name"]
            if f["kind"] == "numeric":
                v = raw[name].copy()
                fill, clip = f["fill"], f.get("clip")
                gap = np.isnan(v)
                po = fill.get("product_of")
                if po and gap.any() and po[0] in raw and po[1] in raw:
                    v[gap] = raw[po[0]][gap] * raw[po[1]][gap]
                if fill.get("median") is not None:
                    v[np.isnan(v)] = fill["median"]
                if clip is not None:
                    v = np.where(v < clip["lower"], clip["lower"], np.where(v > clip["upper"], clip["upper"], v))
                x[:, j] = (v - f["mean"]) / f["std"]
            else:
                cells = self._cells(col(name), f["_codes"])
                codes = f["_codes"]
                out = np.full(len(cells), np.nan)
                for i, s in enumerate(cells):
                    if s is None:
                        continue
                    c = codes.get(s)
                    if c is None and s.lower() in ("true", "false"):
                        # true/false where training had True/False: the one category so spelled.
                        same = [k for k in codes if k.lower() == s.lower()]
                        c = codes[same[0]] if len(same) == 1 else None
                    if c is None:
                        if unknown == "error":
                            raise ValueError(f"column '{name}', row {i}: unseen category '{s}' "
                                             f"({len(codes)} known: {', '.join(f['categories'][:10])})")
                        c = f["_fallback"] if unknown == "most_frequent" else np.nan
                    out[i] = c
                x[:, j] = out
        return x

    def score(self, x, chunk=2048):
        """The uncalibrated score (mean leaf value over the trees) per row of matrix `x`."""
        feat, thr, left, right, mright, value, roots, depth = self._forest
        n, m = x.shape
        out = np.empty(n)
        flat = np.ascontiguousarray(x, dtype=np.float64).ravel()
        for a in range(0, n, chunk):
            b = min(n, a + chunk)
            base = (np.arange(a, b, dtype=np.int64) * m)[None, :]
            node = np.repeat(roots[:, None], b - a, axis=1)  # (trees, rows)
            for _ in range(depth):
                v = flat[base + feat[node]]
                t = thr[node]
                # NaN compares false both ways: it goes right exactly where missing_left is false.
                go = np.where(np.isnan(v), mright[node], v > t)
                node = np.where(go, right[node], left[node])
            leaf = value[node]
            acc = np.zeros(b - a)
            for k in range(self.n_trees):  # tree order, then divide: as Rust sums
                acc += leaf[k]
            out[a:b] = acc / float(self.n_trees)
        return out

    def calibrate(self, s):
        c = self.calibration
        if c is None:
            return s
        if c["method"] == "platt":
            z = -(c["a"] * s + c["b"])
            e = np.array([math.exp(-v if v >= 0 else v) for v in z.tolist()])  # libm, as Rust
            return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        x, y = self._iso
        k = np.clip(np.searchsorted(x, s, side="right"), 1, len(x) - 1)
        x0, x1, y0, y1 = x[k - 1], x[k], y[k - 1], y[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            mid = y0 + (y1 - y0) * (s - x0) / (x1 - x0)
        return np.where(s <= x[0], y[0], np.where(s >= x[-1], y[-1], mid))

    def predict_proba(self, df, unknown="missing"):
        return self.calibrate(self.score(self.transform(df, unknown)))

    def predict(self, model_input, params=None):
        """`churn_probability` and `churn_prediction` (probability > threshold) per input row.
        params: `threshold` (default 0.5, in [0, 1)), `unknown_category` (missing, error or
        most_frequent; default missing)."""
        params = dict(params or {})
        t = params.get("threshold", 0.5)
        try:
            t = float(t)
        except (TypeError, ValueError):
            raise ValueError(f"threshold {t!r}: expected a probability in [0, 1)") from None
        if not 0.0 <= t < 1.0:
            raise ValueError(f"threshold {t}: expected a probability in [0, 1)")
        unknown = str(params.get("unknown_category", "missing")).replace("-", "_")
        df = model_input
        if isinstance(df, dict):
            df = pd.DataFrame(df if all(isinstance(v, (list, tuple, np.ndarray, pd.Series)) for v in df.values())
                              else [df])
        elif isinstance(df, (list, tuple)):
            df = pd.DataFrame.from_records(df)
        elif not isinstance(df, pd.DataFrame):
            raise ValueError(f"expected a pandas DataFrame of customer rows, got {type(df).__name__}")
        p = self.predict_proba(df, unknown)
        return pd.DataFrame({"churn_probability": p.astype(np.float64),
                             "churn_prediction": (p > t).astype(np.int64)}, index=df.index)


def _load_pyfunc(data_path):
    """MLflow's entry point: `data_path` is the model directory (or a file in it)."""
    path = str(data_path)
    return ChurnkitModel(path if os.path.isdir(path) else os.path.dirname(path))
