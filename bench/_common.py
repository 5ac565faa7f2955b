"""What the benchmarks share: their own PostgreSQL database, and percentiles."""

from __future__ import annotations

import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def ensure_database(url: str, *, require_postgres: bool = False) -> None:
    """Create the benchmark's database when it does not exist yet. Only a PostgreSQL on this
    machine is accepted (benchmarks write rows of their own); another engine is refused when
    ``require_postgres``, else run with a warning (the targets are set for PostgreSQL)."""
    import environ
    import psycopg
    from psycopg import sql

    config = environ.Env.db_url_config(url)
    if "postgresql" not in config["ENGINE"]:
        if require_postgres:
            sys.exit("this benchmark needs PostgreSQL")
        print(f"warning: {config['ENGINE']} is not PostgreSQL; the target is set for PostgreSQL", file=sys.stderr)
        return
    if (config.get("HOST") or "127.0.0.1") not in LOOPBACK:
        sys.exit("the benchmark writes a database of its own: use a PostgreSQL on this machine (loopback)")
    params = {"dbname": "postgres", "host": config.get("HOST") or None, "port": config.get("PORT") or None,
              "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as conn:
        name = config["NAME"]
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}", file=sys.stderr)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (nan when there are none)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(p / 100 * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]
