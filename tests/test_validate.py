"""Bad input, through the command line and the library: every case fails before anything is
built or written, with one line naming the field or file, and never a traceback."""

import json
import math
import os
from pathlib import Path

import pytest

import discovery.agents
import discovery.run
import envs
from discovery.cli import main
from discovery.config import DiscoveryConfig, RuleConfig, apply_overrides, preset
from discovery.es import ESConfig
from discovery.inner import TrainConfig
from discovery.rundir import RunDir
from discovery.validate import check_value

# (arguments after `rldisco`, text the error line must contain). `{ws}` is the workspace.
CLI_CASES = [
    # values of the wrong type or out of range, as key=value overrides
    (["discover", "es.lr=.nan"], "es.lr must be a finite number"),
    (["discover", "es.lr=nan"], "es.lr must be a finite number"),
    (["discover", "es.sigma=.inf"], "es.sigma must be a finite number"),
    (["discover", "es.sigma=-1e-3"], "es.sigma must be"),
    (["discover", "es.lr=abc"], "es.lr must be a number, got 'abc'"),
    (["discover", "generations=true"], "generations must be an integer, got True"),
    (["discover", "generations=0"], "generations must be a positive integer"),
    (["discover", "chunk=2.5"], "chunk must be an integer, got 2.5"),
    (["discover", "seed=abc"], "seed must be an integer, got 'abc'"),
    (["discover", "seed=1e30"], "seed must fit in 64 bits"),
    (["discover", "levels.robust=maybe"], "levels.robust must be true or false"),
    (["discover", "levels.replay_prob=abc"], "levels.replay_prob must be a number"),
    (["discover", "metagrad.lr=.nan"], "metagrad.lr must be a finite number"),
    (["discover", "train.hidden=[-5]"], "TrainConfig.hidden sizes must be positive"),
    (["discover", "train.hidden=ab"], "TrainConfig.hidden must be a list"),
    (["discover", "train.hidden=[64, x]"], "TrainConfig.hidden[1] must be an integer"),
    (["discover", "train.hidden=[1,"], "override 'train.hidden=[1,'"),
    (["discover", "train.lr=-1"], "TrainConfig.lr must be"),
    (["discover", "train.critic_lr=.inf"], "TrainConfig.critic_lr must be a finite number"),
    (["discover", "train.num_envs=true"], "TrainConfig.num_envs must be an integer"),
    (["discover", "train.activation=1"], "TrainConfig.activation must be a string"),
    (["discover", "rule.options.init_scale=abc"], "rule.options.init_scale must be a number"),
    (["discover", "rule.options.hidden=x"], "rule.options.hidden must be an integer"),
    (["discover", "rule.options.nope=1"], "rule.options: ['nope'] are not options"),
    (["discover", "rule.name=nope"], "rule.name: unknown rule 'nope'"),
    (["discover", "rule=ta-lpo"], "rule must be a RuleConfig"),
    (["discover", "train=5"], "train must be a TrainConfig"),
    (["discover", "envs=[]"], "envs: at least one training environment"),
    (["discover", "envs=[CartPol-v1]"], "Did you mean: CartPole-v1"),
    (["discover", "envs=[CartPole-v1, 5]"], "envs[1] must be a string"),
    (["discover", "es.population_size=3"], "es.population_size must be even"),
    (["discover", "es.strategy=xnes"], "es.strategy must be one of"),
    (["discover", "es.sigmaa=0.1"], "unknown field 'sigmaa'"),
    (["discover", "foo.bar=1"], "'foo' is not a config section"),
    (["discover", "generations"], "not of the form key=value"),
    (["discover", "--preset", "nope"], "unknown preset 'nope'"),
    # sizes that cannot fit: refused from shapes, before compiling or creating anything
    (["discover", "es.population_size=1e8"], "one generation needs at least"),
    (["discover", "train.total_timesteps=1e12"], "one generation needs at least"),
    # files
    (["discover", "--config", "{ws}/broken.yaml"], "broken.yaml:3: not valid YAML"),
    (["discover", "--config", "{ws}/list.yaml"], "list.yaml: expected a mapping"),
    (["discover", "--config", "{ws}/unknown.yaml"], "unknown.yaml: unknown config field"),
    (["discover", "--config", "{ws}/nan.yaml"], "nan.yaml: es.lr must be a finite number"),
    (["discover", "--config", "{ws}/missing.yaml"], "missing.yaml: No such file"),
    (["discover", "--runs-dir", "{ws}/broken.yaml"], "broken.yaml is not a directory"),
    (["discover", "--name", "done"], "already exists; pass --resume"),
    (["discover", "--resume", "{ws}/nowhere"], "no run directory at"),
    (["discover", "--resume", "{ws}/runs/train-run"], "is a 'train' run, not a 'discover'"),
    (["discover", "--resume", "{ws}/runs/broken-run"], "broken-run/config.yaml:3: not valid"),
    (["discover", "--resume", "{ws}/runs/nan-run"], "nan-run/config.yaml: es.lr must be a"),
    (["discover", "--resume", "{ws}/runs/done", "es.lr=.nan"], "es.lr must be a finite"),
    (["discover", "--resume", "{ws}/runs/done", "--preset", "quickstart"], "--resume continues"),
    (["train", "--env", "CartPole-v1", "--lr", "nan"], "TrainConfig.lr must be a finite"),
    (["train", "--env", "CartPole-v1", "--num-envs", "0"], "num_envs"),
    (["train", "--env", "CartPol-v1"], "Did you mean: CartPole-v1"),
    (["train", "--env", "CartPole-v1", "--rule", "nope"], "Unknown rule 'nope'"),
    (["evaluate", "{ws}/nowhere", "--envs", "CartPole-v1"], "no run directory at"),
    (["evaluate", "{ws}/runs/done", "--envs", "CartPol-v1"], "Did you mean: CartPole-v1"),
    (["evaluate", "{ws}/runs/done", "--envs", "CartPole-v1", "--seeds", "0"], "seeds must be"),
]

API_CASES = [
    (lambda: DiscoveryConfig(envs="CartPole-v1"), "envs must be a list, got the string"),
    (lambda: DiscoveryConfig(generations=True), "generations must be an integer"),
    (lambda: DiscoveryConfig(seed=1.5), "seed must be an integer"),
    (lambda: DiscoveryConfig(rule="ta-lpo"), "rule must be a RuleConfig"),
    (lambda: DiscoveryConfig.from_dict({"envs": ["CartPole-v1"], "es": {"lr": "nan"}}),
     "es.lr must be a finite number"),
    (lambda: ESConfig(lr=math.nan), "es.lr must be a finite number"),
    (lambda: ESConfig(sigma=math.inf), "es.sigma must be a finite number"),
    (lambda: ESConfig(population_size=8.0 + 1e-9), "es.population_size must be an integer"),
    (lambda: TrainConfig(num_envs=True), "TrainConfig.num_envs must be an integer"),
    (lambda: TrainConfig(hidden=(-5,)), "TrainConfig.hidden sizes must be positive"),
    (lambda: TrainConfig(hidden="64"), "TrainConfig.hidden must be a list"),
    (lambda: TrainConfig().replace(lr=math.nan), "TrainConfig.lr must be a finite number"),
    (lambda: RuleConfig("ta-lpo", {"init_scale": "abc"}), "rule.options.init_scale"),
    (lambda: envs.make("CartPole-v1", gravity="x"), "gravity must be a number"),
    (lambda: envs.make("CartPole-v1", gravity=[1.0, 2.0]), "gravity must be a number of shape"),
    (lambda: envs.make("CartPole-v1", nope=1), "unknown override(s) ['nope']"),
    (lambda: apply_overrides(preset("quickstart"), ["train.lr=.nan"]), "TrainConfig.lr"),
]


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """Bad files and runs to point at; training entry points that fail the test if reached."""
    (tmp_path / "broken.yaml").write_text("envs: [CartPole-v1]\nes: {lr: [\n")
    (tmp_path / "list.yaml").write_text("- CartPole-v1\n")
    (tmp_path / "unknown.yaml").write_text("envs: [CartPole-v1]\nsigma: 0.1\n")
    (tmp_path / "nan.yaml").write_text("es:\n  lr: .nan\n")
    runs = tmp_path / "runs"
    good = preset("quickstart").to_dict()
    RunDir.create(runs / "done", "discover", good)
    RunDir.create(runs / "train-run", "train", {"env": "CartPole-v1"})
    broken = RunDir.create(runs / "broken-run", "discover", good)
    broken.config_path.write_text("kind: discover\nenvs: [CartPole-v1\nseed: 0\n")
    bad_value = RunDir.create(runs / "nan-run", "discover", good)
    bad_value.write_config({"kind": "discover", **{**good, "es": {**good["es"], "lr": math.nan}}})

    def reached(*args, **kwargs):
        raise AssertionError("bad input reached training")

    monkeypatch.setattr(discovery.run, "run_discovery", reached)
    monkeypatch.setattr(discovery.agents, "train_agents", reached)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and its (size, mtime), but the lock files: taking a run's lock (before the
    config can be checked without loading jax) records the holder there."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in root.rglob("*") if p.name != "run.lock"}


@pytest.mark.parametrize("args,message", CLI_CASES, ids=[" ".join(a) for a, _ in CLI_CASES])
def test_bad_command_line_input_fails_with_one_line_naming_it_and_writes_nothing(
        workspace, capsys, args, message):
    args = [a.replace("{ws}", str(workspace)) for a in args]
    if "--runs-dir" not in args and args[0] in ("discover", "train"):
        args += ["--runs-dir", str(workspace / "runs")]
    before = _snapshot(workspace)
    assert main(args) == 2
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith(f"rldisco {args[0]}: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in out.out + out.err
    assert _snapshot(workspace) == before


@pytest.mark.parametrize("call,message", API_CASES, ids=[m for _, m in API_CASES])
def test_bad_library_input_raises_one_line_naming_the_field(call, message):
    with pytest.raises(ValueError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_there_are_at_least_forty_bad_inputs():
    assert len(CLI_CASES) + len(API_CASES) >= 40


@pytest.mark.parametrize("override,field,value", [
    ("train.lr=3e-4", "lr", 3e-4), ("es.lr=1e-2", "lr", 1e-2),
    ("train.total_timesteps=1e5", "total_timesteps", 100_000),
    ("train.hidden=[32, 32]", "hidden", (32, 32)), ("train.critic_lr=null", "critic_lr", None),
])
def test_overrides_parse_as_their_field_type(override, field, value):
    cfg = apply_overrides(preset("quickstart"), [override])
    section = cfg.train if override.startswith("train.") else cfg.es
    got = getattr(section, field)
    assert got == value and type(got) is type(value)


def test_a_config_written_by_a_run_is_accepted_as_a_config_file(tmp_path):
    path = tmp_path / "config.yaml"
    RunDir.create(tmp_path / "r", "discover", preset("quickstart").to_dict())
    path.write_text((tmp_path / "r" / "config.yaml").read_text())
    assert "kind" in path.read_text()
    from discovery.rundir import read_yaml

    data = {k: v for k, v in read_yaml(path).items() if k != "kind"}
    assert DiscoveryConfig.from_dict(data) == preset("quickstart")


def test_yaml_numbers_written_without_a_dot_are_numbers():
    assert check_value("3e-4", float, "x") == 3e-4
    assert check_value("1e8", int, "x") == 100_000_000
    assert json.dumps(check_value([1, 2], tuple[int, ...], "x")) == "[1, 2]"
    assert os.fspath(Path("x")) == "x"
