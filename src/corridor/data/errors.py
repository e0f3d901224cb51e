"""A refused data file, and the vectorised checks that find the first bad cell in one.

Every reader in `corridor.data` validates a whole file with pandas before anything uses it, and
stops at the first bad row with a `DataFileError` that says where (file, 1-based line, column),
what was found and what was expected, so a user who brings a newer CBP file can fix it by hand.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

LINE = "_line"  # hidden column: 1-based line number of each row in its file (header is line 1)
COUNT_PATTERN = r"\d{1,3}(?:,\d{3})+|\d+"  # whole numbers, optionally with thousands separators


class DataFileError(ValueError):
    """A data file that cannot be used, with the place of the first problem in it."""

    def __init__(
        self,
        file: str | Path,
        problem: str,
        *,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.file = str(file)
        self.row = row
        self.column = column
        self.problem = problem
        self.expected = expected
        super().__init__(self._format())

    def _format(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = f"{', '.join(where)}: {self.problem}"
        return f"{text}; expected {self.expected}" if self.expected else text

    def __reduce__(self):  # keep the error picklable (e.g. across worker processes)
        kwargs = {"row": self.row, "column": self.column, "expected": self.expected}
        return (_rebuild, (self.file, self.problem, kwargs))


def _rebuild(file: str, problem: str, kwargs: dict) -> DataFileError:
    return DataFileError(file, problem, **kwargs)


def read_text_csv(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Read a CSV as stripped strings with a `_line` column, refusing a file missing `columns`.

    Everything is read as text so that the checks below, not pandas' type guessing, decide what a
    cell means; blank lines are kept while numbering so that `_line` matches the file.
    """
    path = Path(path)
    try:
        df = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            encoding="utf-8-sig",
        )
    except FileNotFoundError:
        raise DataFileError(path, "no such file", expected="a CSV file") from None
    except (IsADirectoryError, PermissionError) as err:
        raise DataFileError(path, f"cannot read the file ({err.strerror})") from None
    except UnicodeDecodeError:
        raise DataFileError(path, "not UTF-8 text", expected="a UTF-8 CSV file") from None
    except pd.errors.EmptyDataError:
        raise DataFileError(
            path, "empty file", row=1, expected="a header: " + ", ".join(columns)
        ) from None
    except pd.errors.ParserError as err:
        found = re.search(r"line (\d+)", str(err))
        raise DataFileError(
            path,
            "malformed CSV: " + str(err).replace("Error tokenizing data. C error: ", "").strip(),
            row=int(found.group(1)) if found else None,
            expected=f"{len(columns)} comma-separated fields per row",
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    require_columns(df, columns, path)
    df = df[list(columns)].fillna("")
    df = df.apply(lambda col: col.str.strip())
    df[LINE] = df.index + 2
    df = df[(df[list(columns)] != "").any(axis=1)].reset_index(drop=True)
    if df.empty:
        raise DataFileError(
            path, "no data rows", row=2, expected="at least one row after the header"
        )
    return df


def require_columns(df: pd.DataFrame, columns: Sequence[str], path: str | Path) -> None:
    """Refuse a header that lacks any of `columns` (the header is line 1)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFileError(
            path,
            "missing column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            row=1,
            column=missing[0],
            expected="a header with " + ", ".join(columns),
        )


def fail_first(
    df: pd.DataFrame,
    bad: pd.Series,
    path: str | Path,
    column: str,
    problem: str,
    expected: str,
) -> None:
    """Raise at the first row where `bad` holds; `problem` may use {value} for the cell."""
    if not bad.any():
        return
    first = df.loc[bad.to_numpy()].iloc[0]
    value = first[column] if column in df.columns else ""
    raise DataFileError(
        path,
        problem.format(value=value),
        row=int(first[LINE]),
        column=column,
        expected=expected,
    )


def require_filled(df: pd.DataFrame, columns: Sequence[str], path: str | Path) -> None:
    """Refuse empty cells in `columns` (key columns must name something)."""
    for column in columns:
        fail_first(df, df[column] == "", path, column, "empty value", "a value")


def map_labels(
    df: pd.DataFrame, column: str, labels: Mapping[str, str], path: str | Path
) -> pd.Series:
    """Map the labels of `column` through `labels` (case-insensitively), refusing unknown ones."""
    folded = {label.casefold(): key for label, key in labels.items()}
    mapped = df[column].str.casefold().map(folded)
    known = ", ".join(dict.fromkeys(labels))
    require_filled(df, [column], path)
    fail_first(df, mapped.isna(), path, column, "unknown value '{value}'", f"one of {known}")
    return mapped.astype(str)


def parse_counts(df: pd.DataFrame, column: str, path: str | Path) -> pd.Series:
    """Parse whole, non-negative counts (thousands separators allowed) as int64."""
    text = df[column]
    bad = ~text.str.fullmatch(COUNT_PATTERN)
    if bad.any():
        value = df.loc[bad.to_numpy(), column].iloc[0]
        fail_first(df, bad, path, column, _count_problem(value), _COUNT_EXPECTED)
    return text.str.replace(",", "", regex=False).astype("int64")


_COUNT_EXPECTED = "a whole number >= 0, e.g. 1234 or 1,234"


def _count_problem(value: str) -> str:
    """Say why a count cell was refused, for the message only."""
    if value == "":
        return "empty count"
    if re.fullmatch(r"-\s*[\d,]*\.?\d+", value):
        return f"negative count '{value}'"
    if re.fullmatch(r"[\d,]*\.\d+", value):
        return f"count '{value}' is not a whole number"
    return f"count '{value}' is not a number"


def require_unique(
    df: pd.DataFrame, keys: Sequence[str], path: str | Path, key_columns: Sequence[str]
) -> None:
    """Refuse a row whose key (parsed `keys`, from file columns `key_columns`) occurs before."""
    dup = df.duplicated(list(keys), keep="first")
    if not dup.any():
        return
    second = df.loc[dup.to_numpy()].iloc[0]
    same = (df[list(keys)] == second[list(keys)]).all(axis=1)
    first_line = int(df.loc[same.to_numpy(), LINE].iloc[0])
    raise DataFileError(
        path,
        f"duplicated row: same {', '.join(key_columns)} as row {first_line}",
        row=int(second[LINE]),
        column=" + ".join(key_columns),
        expected="one row per key",
    )
