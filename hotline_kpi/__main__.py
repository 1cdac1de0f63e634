"""``python -m hotline_kpi`` and the ``hotline-kpi`` console script.

The CLI is imported when :func:`main` is called, not when this module is: multiprocessing's
spawn imports the program that started it in every worker process (the parallel line scan of a
big queue_log), and a worker that imported the CLI would carry it for nothing (about a
second and 50 MB each)."""


def main() -> None:
    from hotline_kpi.cli import main as cli

    cli()


if __name__ == "__main__":  # pragma: no cover - thin wrapper
    main()
