"""The Kubernetes example (deploy/dagster-k8s.yaml, deploy/README.md) is a valid instance for
dagster-k8s: its run launcher's config passes K8sRunLauncher's own schema (it once lacked the
required `instance_config_map`), the launcher can be built from it, and deploy/dagster.yaml with
its keys is a valid Dagster instance. Needs the `k8s` extra (`pip install -e '.[k8s]'`)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

dagster_k8s = pytest.importorskip("dagster_k8s", reason="dagster-k8s is not installed: pip install -e '.[k8s]'")


def _example() -> dict:
    return yaml.safe_load((ROOT / "deploy" / "dagster-k8s.yaml").read_text())


def test_the_run_launcher_config_passes_dagster_k8s_schema():
    from dagster._config import process_config

    launcher = _example()["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    result = process_config(dagster_k8s.K8sRunLauncher.config_type(), launcher["config"])
    assert result.success, [e.message for e in result.errors]
    assert result.value["instance_config_map"] == "roster-dagster-instance"


def test_the_launcher_is_built_from_it(tmp_path):
    from dagster._config import process_config

    # Outside a cluster: the same config, with a kubeconfig standing in for the in-cluster one.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    config = {**_example()["run_launcher"]["config"], "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}
    value = process_config(dagster_k8s.K8sRunLauncher.config_type(), config).value
    launcher = dagster_k8s.K8sRunLauncher.from_config_value(None, value)
    assert launcher.job_namespace == "roster" and launcher.dagster_home == "/opt/dagster"


def test_deploy_dagster_yaml_with_its_keys_is_a_valid_instance(tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    instance.update(_example())
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance))
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
