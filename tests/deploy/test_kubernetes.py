"""deploy/kubernetes (SPEC §11), checked without a cluster: every manifest parses (python3-yaml, Debian's),
uses only field names the Kubernetes API has where typos hide (pod, container, security context), and holds
what the operations guide promises: 3 replicas, the key set and clients file from a Secret volume, /readyz
readiness and /healthz liveness, non-root, read-only root, no capabilities, resources, a preStop that ends
before the grace period does; a Service, a PodDisruptionBudget and a NetworkPolicy that select those pods.
"""

import re
import unittest
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
SHUTDOWN_DRAIN_SECONDS = 10  # the service's drain after SIGTERM at most (docs/operations.md, "Starting")

KNOWN_KINDS = {
    ("apps/v1", "Deployment"),
    ("v1", "Service"),
    ("policy/v1", "PodDisruptionBudget"),
    ("networking.k8s.io/v1", "NetworkPolicy"),
}
# Field names of the core/v1 API objects (Kubernetes 1.30): a misspelt key would be dropped by a lenient apply.
POD_SPEC_FIELDS = {
    "activeDeadlineSeconds", "affinity", "automountServiceAccountToken", "containers", "dnsConfig", "dnsPolicy",
    "enableServiceLinks", "ephemeralContainers", "hostAliases", "hostIPC", "hostNetwork", "hostPID", "hostUsers",
    "hostname", "imagePullSecrets", "initContainers", "nodeName", "nodeSelector", "os", "overhead",
    "preemptionPolicy", "priority", "priorityClassName", "readinessGates", "resourceClaims", "restartPolicy",
    "runtimeClassName", "schedulerName", "schedulingGates", "securityContext", "serviceAccountName",
    "setHostnameAsFQDN", "shareProcessNamespace", "subdomain", "terminationGracePeriodSeconds", "tolerations",
    "topologySpreadConstraints", "volumes",
}
CONTAINER_FIELDS = {
    "args", "command", "env", "envFrom", "image", "imagePullPolicy", "lifecycle", "livenessProbe", "name", "ports",
    "readinessProbe", "resizePolicy", "resources", "restartPolicy", "securityContext", "startupProbe", "stdin",
    "stdinOnce", "terminationMessagePath", "terminationMessagePolicy", "tty", "volumeDevices", "volumeMounts",
    "workingDir",
}
POD_SECURITY_FIELDS = {
    "appArmorProfile", "fsGroup", "fsGroupChangePolicy", "runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions",
    "seccompProfile", "supplementalGroups", "sysctls", "windowsOptions",
}
CONTAINER_SECURITY_FIELDS = {
    "allowPrivilegeEscalation", "appArmorProfile", "capabilities", "privileged", "procMount", "readOnlyRootFilesystem",
    "runAsGroup", "runAsNonRoot", "runAsUser", "seLinuxOptions", "seccompProfile", "windowsOptions",
}
PROBE_FIELDS = {
    "exec", "failureThreshold", "grpc", "httpGet", "initialDelaySeconds", "periodSeconds", "successThreshold",
    "tcpSocket", "terminationGracePeriodSeconds", "timeoutSeconds",
}


def documented_variables():
    """Every variable docs/configuration.md describes, plus PORT."""
    text = (ROOT / "docs" / "configuration.md").read_text()
    return set(re.findall(r"`(MACP_AUTH_[A-Z_]+)`", text)) | {"PORT"}


class KubernetesManifests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.objects = {}
        for path in sorted(DEPLOY.glob("*.yaml")):
            if path.name == "kustomization.yaml":
                continue
            for doc in yaml.safe_load_all(path.read_text()):
                cls.objects[doc["kind"]] = doc
        cls.deployment = cls.objects["Deployment"]
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        (cls.container,) = cls.pod["containers"]
        cls.env = {e["name"]: e["value"] for e in cls.container["env"]}
        cls.pod_labels = cls.deployment["spec"]["template"]["metadata"]["labels"]

    def assertSelects(self, selector, what):
        self.assertTrue(selector, f"{what}: an empty selector would select every pod")
        for key, value in selector.items():
            self.assertEqual(self.pod_labels.get(key), value, f"{what} does not select the Deployment's pods")

    def test_every_manifest_is_a_known_kind_and_the_kustomization_lists_them_all(self):
        for (api, kind), obj in ((( o["apiVersion"], k), o) for k, o in self.objects.items()):
            self.assertIn((api, kind), KNOWN_KINDS)
            self.assertEqual(obj["metadata"]["name"], "macp-auth-service")
        self.assertEqual({k for _, k in KNOWN_KINDS}, set(self.objects))
        kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
        listed = set(kustomization["resources"])
        on_disk = {p.name for p in DEPLOY.glob("*.yaml")} - {"kustomization.yaml"}
        self.assertEqual(listed, on_disk)

    def test_field_names_are_the_apis(self):
        self.assertLessEqual(set(self.pod), POD_SPEC_FIELDS)
        self.assertLessEqual(set(self.container), CONTAINER_FIELDS)
        self.assertLessEqual(set(self.pod["securityContext"]), POD_SECURITY_FIELDS)
        self.assertLessEqual(set(self.container["securityContext"]), CONTAINER_SECURITY_FIELDS)
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertLessEqual(set(self.container[probe]), PROBE_FIELDS)
        unknown = set(self.env) - documented_variables()
        self.assertEqual(unknown, set(), "variables docs/configuration.md does not describe")

    def test_three_replicas_that_never_all_go_at_once(self):
        spec = self.deployment["spec"]
        self.assertEqual(spec["replicas"], 3)
        self.assertSelects(spec["selector"]["matchLabels"], "the Deployment's selector")
        self.assertEqual(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        pdb = self.objects["PodDisruptionBudget"]["spec"]
        self.assertSelects(pdb["selector"]["matchLabels"], "the PodDisruptionBudget")
        self.assertGreaterEqual(pdb["minAvailable"], 2)

    def test_key_set_and_clients_file_come_from_a_secret_volume_the_service_may_read(self):
        mounts = {m["name"]: m for m in self.container["volumeMounts"]}
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        (name,) = [n for n, v in volumes.items() if "secret" in v]
        secret = volumes[name]["secret"]
        mount = mounts[name]
        self.assertTrue(mount["readOnly"])
        self.assertNotIn("subPath", mount, "a subPath mount never sees a Secret update")
        directory = mount["mountPath"]
        self.assertEqual(self.env["MACP_AUTH_SIGNING_KEYS_FILE"], f"{directory}/keys.json")
        self.assertEqual(self.env["MACP_AUTH_CLIENTS_FILE"], f"{directory}/clients.json")
        # Group-readable for the pod's fsGroup (the kubelet adds group bits with fsGroup whatever defaultMode
        # says), so the service must be told that is fine; others may not read.
        self.assertEqual(secret["defaultMode"] & 0o007, 0)
        self.assertEqual(self.pod["securityContext"]["fsGroup"], self.pod["securityContext"]["runAsGroup"])
        self.assertEqual(self.env["MACP_AUTH_ALLOW_SHARED_KEY_FILE"], "1")

    def test_probes_readyz_and_healthz_on_the_service_port(self):
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        self.assertEqual(self.container["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(self.container["livenessProbe"]["httpGet"]["path"], "/healthz")
        for probe in ("readinessProbe", "livenessProbe"):
            self.assertEqual(ports[self.container[probe]["httpGet"]["port"]], int(self.env["PORT"]))
        self.assertEqual(self.env["MACP_AUTH_BIND_ADDR"], "0.0.0.0")
        metrics_port = int(self.env["MACP_AUTH_METRICS_ADDR"].rsplit(":", 1)[1])
        self.assertEqual(ports["metrics"], metrics_port)

    def test_non_root_read_only_root_no_capabilities_and_resources(self):
        pod_security = self.pod["securityContext"]
        security = self.container["securityContext"]
        self.assertTrue(pod_security["runAsNonRoot"])
        self.assertNotEqual(pod_security["runAsUser"], 0)
        self.assertEqual(pod_security["seccompProfile"]["type"], "RuntimeDefault")
        self.assertTrue(security["readOnlyRootFilesystem"])
        self.assertFalse(security["allowPrivilegeEscalation"])
        self.assertFalse(security.get("privileged", False))
        self.assertEqual(security["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", security["capabilities"])
        self.assertFalse(self.pod["automountServiceAccountToken"])
        resources = self.container["resources"]
        self.assertIn("cpu", resources["requests"])
        self.assertIn("memory", resources["requests"])
        self.assertIn("memory", resources["limits"])

    def test_pre_stop_lets_endpoints_drain_within_the_grace_period(self):
        pre_stop = self.container["lifecycle"]["preStop"]["sleep"]["seconds"]
        self.assertGreaterEqual(pre_stop, 5)
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], pre_stop + SHUTDOWN_DRAIN_SECONDS)

    def test_service_and_network_policy_reach_the_pods_port_from_labelled_pods_only(self):
        service = self.objects["Service"]["spec"]
        self.assertSelects(service["selector"], "the Service")
        ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        (port,) = service["ports"]
        self.assertIn(port["targetPort"], ports)
        policy = self.objects["NetworkPolicy"]["spec"]
        self.assertSelects(policy["podSelector"]["matchLabels"], "the NetworkPolicy")
        self.assertEqual(set(policy["policyTypes"]), {"Ingress", "Egress"})
        reached = {}
        for rule in policy["ingress"]:
            self.assertTrue(rule.get("from"), "a rule without `from` admits every source")
            for peer in rule["from"]:
                labels = peer["podSelector"]["matchLabels"]
                self.assertTrue(labels, "a peer without pod labels admits every pod")
                for p in rule["ports"]:
                    reached.setdefault(p["port"], set()).update(labels)
        self.assertEqual(set(reached), {ports["http"], ports["metrics"]})
        self.assertIn("macp.dev/auth-minter", reached[ports["http"]])
        self.assertIn("macp.dev/auth-jwks-reader", reached[ports["http"]])
        self.assertNotIn("macp.dev/auth-minter", reached[ports["metrics"]])


if __name__ == "__main__":
    unittest.main()
