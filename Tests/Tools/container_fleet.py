#!/usr/bin/env python3
"""What ContainerTests needs from the rendered manifests (scripts/k8s-render.sh output), as JSON.

  container_fleet.py env RENDERED SERVICE
      The environment the service's Deployment gives its container: the ConfigMaps of its
      envFrom, then its env (values from a Secret are listed by name under "from_secrets"), with
      the pod's user, the container ports and the mounts.
  container_fleet.py play RENDERED OUT_DIR --service NAME=API_PORT,ADMIN_PORT ...
      One file per service for `podman kube play`: its Deployment and the ConfigMaps it reads, as
      rendered, with one change: each container port gets hostIP 127.0.0.1 and the host port
      given. podman 4.3 publishes every containerPort on all interfaces at the same number
      (so the fleet's pods, all on 8080 and 9090, would collide and be reachable from outside);
      a Service of a cluster is what the chosen host ports stand for. Prints {service: file}.
  container_fleet.py podman-secret NAME KEY FILE OUT PODMAN_VERSION
      A Secret for `podman secret create` whose data KEY is FILE's content, in the form the given
      podman reads for a kube play secret volume: podman 4.3 copies data values as they are
      written (no base64 decoding) and ignores stringData; later versions read stringData.

Runs in <repo>/.venv-test (PyYAML comes with checkov and kubernetes-validate).
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Parity"))
from venv_bootstrap import ensure_venv  # noqa: E402

ensure_venv()

import yaml  # noqa: E402


def documents(path):
    return [d for d in yaml.safe_load_all(Path(path).read_text()) if d]


def deployment_of(docs, service):
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == service:
            return doc
    raise SystemExit(f"no Deployment named {service} in the rendered manifests")


def config_maps_read(docs, deployment):
    names = [source["configMapRef"]["name"]
             for container in deployment["spec"]["template"]["spec"]["containers"]
             for source in container.get("envFrom", []) if "configMapRef" in source]
    by_name = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    return [by_name[name] for name in names]


def env(rendered, service):
    docs = documents(rendered)
    deployment = deployment_of(docs, service)
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    values, from_secrets = {}, []
    for config_map in config_maps_read(docs, deployment):
        values.update(config_map.get("data", {}))
    for variable in container.get("env", []):
        if "value" in variable:
            values[variable["name"]] = variable["value"]
        elif "secretKeyRef" in variable.get("valueFrom", {}):
            from_secrets.append(variable["name"])
    security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    print(json.dumps({
        "env": values,
        "from_secrets": from_secrets,
        "user": security.get("runAsUser"),
        "group": security.get("runAsGroup"),
        "read_only_root": security.get("readOnlyRootFilesystem", False),
        "drop_capabilities": security.get("capabilities", {}).get("drop", []),
        "ports": {p["name"]: p["containerPort"] for p in container.get("ports", [])},
        "mounts": [m["mountPath"] for m in container.get("volumeMounts", [])],
        "image": container["image"],
    }))


def play(rendered, out_dir, service_ports):
    docs = documents(rendered)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for spec in service_ports:
        service, ports = spec.split("=", 1)
        api_port, admin_port = (int(p) for p in ports.split(","))
        deployment = deployment_of(docs, service)
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for port in container.get("ports", []):
                port["hostIP"] = "127.0.0.1"
                port["hostPort"] = admin_port if port.get("name") == "admin" else api_port
        path = out / f"{service}.yaml"
        path.write_text(yaml.safe_dump_all(config_maps_read(docs, deployment) + [deployment], sort_keys=False))
        files[service] = str(path)
    print(json.dumps(files))


def podman_secret(name, key, file, out, podman_version):
    major, minor = (int(part) for part in podman_version.split(".")[:2])
    content = Path(file).read_text()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
    if (major, minor) < (4, 4):
        secret["data"] = {key: content}
    else:
        secret["stringData"] = {key: content}
    Path(out).write_text(yaml.safe_dump(secret, sort_keys=False))


def main():
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "env":
        env(*arguments)
    elif command == "play":
        rendered, out_dir, rest = arguments[0], arguments[1], arguments[2:]
        play(rendered, out_dir, [value for flag, value in zip(rest[::2], rest[1::2]) if flag == "--service"])
    elif command == "podman-secret":
        podman_secret(*arguments)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
