"""`hotline redis status|stop`: the data dir's embedded Redis (none with HOTLINE_REDIS_URL)."""

from __future__ import annotations

from typing import Annotated

import typer

from hotline.redis import EmbeddedServer

app = typer.Typer(no_args_is_help=True, help="the embedded Redis of the data dir")


def _server() -> EmbeddedServer:
    from hotline.cli import settings_or_exit

    settings = settings_or_exit()
    if settings.redis_url:
        typer.echo("hotline: HOTLINE_REDIS_URL is set; no embedded Redis is used", err=True)
        raise typer.Exit(2)
    return EmbeddedServer(settings.data_dir)


@app.command()
def status() -> None:
    """Whether the embedded Redis runs, and how many hotline processes use it."""
    server = _server()
    if not server.answers():
        typer.echo(f"embedded redis: not running ({server.socket})")
        raise typer.Exit(1)
    users = server.leases()
    typer.echo(f"embedded redis: running on {server.socket}, {len(users)} hotline process(es)")


@app.command()
def stop(
    force: Annotated[
        bool, typer.Option("--force", help="stop it even while hotline processes use it")
    ] = False,
) -> None:
    """Stop the embedded Redis (it saves its data first); refused while processes use it."""
    server = _server()
    with server.locked():
        users = server.leases() if server.answers() else []
        if users and not force:
            typer.echo(
                f"hotline: {len(users)} hotline process(es) still use the embedded Redis; "
                "stop them first, or use --force",
                err=True,
            )
            raise typer.Exit(1)
        stopped = server.stop()
    typer.echo("embedded redis: stopped" if stopped else "embedded redis: was not running")
