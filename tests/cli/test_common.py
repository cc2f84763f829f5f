"""The option parsing every command shares."""

from __future__ import annotations

import click
import pytest

from molvae_cli.common import parse_conditions


def test_conditions_are_parsed():
    assert parse_conditions(("logp=2.5", " QED = 0.8")) == {"logp": 2.5, "qed": 0.8}
    assert parse_conditions(()) is None


@pytest.mark.parametrize("values", [("logp=1", "logp=3"), ("logp=1", "LogP=1"), ("qed=0.8", "logp=2", "qed=0.9")])
def test_a_property_given_twice_is_a_usage_error(values):
    with pytest.raises(click.BadParameter, match="given twice"):
        parse_conditions(values)


def _option(command: click.Command, name: str) -> click.Option:
    return next(p for p in command.params if isinstance(p, click.Option) and name in p.opts)


def test_cli_literals_match_the_library():
    # the CLI spells these out to stay torch-free at import; the library is their home
    from molvae.generate.stream import PRIOR_DRAWS
    from molvae.runtime.device import PRECISIONS
    from molvae_cli.main import cli

    assert _option(cli.commands["generate"], "--prior-draws").default == PRIOR_DRAWS
    for name in ("generate", "encode", "decode", "interpolate", "optimize"):
        assert tuple(_option(cli.commands[name], "--precision").type.choices) == PRECISIONS, name
