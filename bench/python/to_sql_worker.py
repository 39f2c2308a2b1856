"""Times pandas DataFrame.to_sql for benchreport, inside one Python process.

benchreport starts this worker once and sends it one JSON request per line on
standard input; the worker answers each with one JSON line on standard output.
Only the to_sql call is timed (time.perf_counter), so the interpreter's start,
the imports, reading the CSV and opening the connection are not counted.

Requests:

    {"op": "load", "csv": PATH, "rows": [10000, 100000]}
        reads the salaries CSV once and builds one frame per row count by
        repeating it; answers the versions of Python and its libraries.
    {"op": "to_sql", "target": TARGET, "table": NAME, "rows": N,
     "method": null | "multi", "chunksize": null | N}
        appends the N-row frame into table (if_exists="append", no index)
        and answers {"seconds": ...}. TARGET is an SQLAlchemy URL, or
        "sqlite3:PATH" for a plain sqlite3 connection. The table must not
        exist: pandas creates it, as it would for a new machine table.
    {"op": "quit"}

Errors are answered as {"error": "..."}, and the worker goes on.
"""

import json
import platform
import sqlite3
import sys
import time
import traceback

import pandas as pd
import sqlalchemy

frames = {}
connections = {}


def versions():
    out = {
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "numpy": __import__("numpy").__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite3 (SQLite library)": sqlite3.sqlite_version,
    }
    try:
        import psycopg2

        out["psycopg2"] = psycopg2.__version__.split(" ")[0]
    except ImportError:
        pass
    try:
        import MySQLdb

        out["mysqlclient (MySQLdb)"] = ".".join(str(p) for p in MySQLdb.version_info[:3])
    except ImportError:
        pass
    return out


def load(req):
    df = pd.read_csv(req["csv"], parse_dates=["hired_at"])
    for n in req["rows"]:
        reps = -(-n // len(df))
        frames[n] = pd.concat([df] * reps, ignore_index=True).iloc[:n].copy()
    return {"versions": versions(), "dtypes": {c: str(t) for c, t in df.dtypes.items()}}


def connection(target):
    con = connections.get(target)
    if con is None:
        if target.startswith("sqlite3:"):
            con = sqlite3.connect(target[len("sqlite3:"):])
        else:
            con = sqlalchemy.create_engine(target)
        connections[target] = con
    return con


def to_sql(req):
    df = frames[req["rows"]]
    con = connection(req["target"])
    start = time.perf_counter()
    df.to_sql(
        req["table"],
        con,
        if_exists="append",
        index=False,
        method=req.get("method"),
        chunksize=req.get("chunksize"),
    )
    return {"seconds": time.perf_counter() - start}


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                break
            if op == "load":
                resp = load(req)
            elif op == "to_sql":
                resp = to_sql(req)
            else:
                resp = {"error": "unknown op %r" % op}
        except Exception as e:  # answered, not fatal: benchreport reports it
            resp = {"error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc(limit=3)}
        sys.stdout.write(json.dumps(resp) + "\n")
        sys.stdout.flush()
    for con in connections.values():
        if isinstance(con, sqlite3.Connection):
            con.close()
        else:
            con.dispose()


if __name__ == "__main__":
    main()
