import Foundation
import HTTPTypes
import Hummingbird
import ServiceKitTesting
import Testing

/// The fleet as it ships (docs/deployment.md): the Dockerfile and the rendered manifests pass
/// hadolint, kubernetes-validate and checkov; every service's image builds through the real
/// Dockerfile and runs read-only as uid 10001 with the environment its Deployment gives it, answers
/// its probes and exits 0 on SIGTERM; and the rendered local overlay runs as pods under
/// `podman kube play`, its services calling each other by name, until `podman kube down` leaves
/// nothing behind.
///
/// The images take the Dockerfile's `prebuilt` path: binaries from this machine's toolchain
/// (`scripts/images.sh`, BUILD=local) on a base image made offline (`scripts/container-base.sh`,
/// cached in /var/cache/fleet-images). By default they are a debug build with the static standard
/// library (BINARY_BUILD=debug, in `.build-static`: no optimizer, where a first release build takes
/// two cores for 20 minutes and more, past `make test`'s time);
/// `FLEET_CONTAINER_BINARIES=release` tests the release binaries `make images` ships.
@Suite(.serialized) struct ContainerTests {
    /// hadolint passes the Dockerfile, every overlay renders, kubernetes-validate (strict, Kubernetes
    /// 1.37) accepts every object, and checkov fails no check: each one skipped has its reason in an
    /// annotation beside the object.
    @Test(.timeLimit(.minutes(15)))
    func theDockerfileAndEveryRenderedOverlayPassHadolintKubernetesValidateAndCheckov() async throws {
        let folder = try TemporaryDirectory.make(prefix: "lint")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let result = try await Command.run(
            ["timeout", "900", "python3", Containers.root + "/Tests/Tools/container_lint.py", "--summary", folder + "/lint.json"],
            environment: ["PYTHONDONTWRITEBYTECODE": "1"]
        )
        #expect(result.status == 0, "make lint: \(result.output)")
        let summary = try Containers.json(Data(contentsOf: URL(fileURLWithPath: folder + "/lint.json")))
        let hadolint = try #require(summary["hadolint"] as? [String: Any])
        #expect(hadolint["passed"] as? Bool == true, "hadolint: \(hadolint)")
        let overlays = try #require(summary["overlays"] as? [String: [String: Any]])
        #expect(Set(overlays.keys) == ["local", "production"])
        for (name, overlay) in overlays {
            let validation = overlay["validate"] as? [String: Any] ?? [:]
            #expect(overlay["rendered"] as? Bool == true, "\(name) does not render: \(overlay)")
            #expect(validation["passed"] as? Bool == true, "\(name): \(validation)")
            #expect((overlay["objects"] as? Int ?? 0) >= 26, "\(name) has too few objects: \(overlay)")
            let kinds = Set(overlay["kinds"] as? [String] ?? [])
            #expect(kinds.isSuperset(of: ["Deployment", "Service", "ServiceAccount", "ConfigMap", "NetworkPolicy", "PodDisruptionBudget"]))
        }
        let productionKinds = Set(overlays["production"]?["kinds"] as? [String] ?? [])
        #expect(productionKinds.contains("HorizontalPodAutoscaler"))
        let checkov = try #require(summary["checkov"] as? [String: Any])
        #expect(checkov["passed"] as? Bool == true, "checkov: \(checkov["failed"] ?? checkov)")
        #expect(checkov["failed_checks"] as? Int == 0)
        #expect((checkov["passed_checks"] as? Int ?? 0) > 500, "checkov ran too few checks: \(checkov)")
        for skipped in checkov["skipped"] as? [[String: Any]] ?? [] {
            #expect(!(skipped["reason"] as? String ?? "").isEmpty, "skipped without a reason: \(skipped)")
        }
    }

    /// The two tests that need podman. On a machine where podman cannot run containers they are
    /// skipped with one line, except under CI (`CI=true`), where that is a failure.
    @Suite(.serialized, .enabled(if: Containers.podmanWorks || Containers.underCI, "podman cannot run containers here (CI=true makes this a failure)"))
    struct WithPodman {
        /// Every image builds; each container runs with `--read-only` as uid 10001 with every
        /// capability dropped, /tmp (a tmpfs) and /data (an anonymous volume: a tmpfs there loses the
        /// image's ownership of /data) its only writable places, as the Deployment's emptyDirs are,
        /// and the environment of its Deployment; /livez and /readyz answer 200 (orders' readiness
        /// needs catalog: the containers find each other by name, as through a Service); the
        /// gateway, once it exists, answers /api/status; `podman stop` (SIGTERM) ends each with exit 0.
        @Test(.timeLimit(.minutes(45)))
        func everyImageRunsReadOnlyAsNonRootAnswersItsProbesAndExitsZeroOnSIGTERM() async throws {
            try #require(Containers.podmanWorks, "podman cannot run containers on this machine (CI=true)")
            let run = try ContainerRun(prefix: "run")
            try await run.cleaningUp {
                let images = try await Containers.buildImages(tag: run.tag)
                let rendered = try await run.render()
                try await run.createNetwork()
                let key = try run.signingKey()
                var started: [(service: String, container: String, admin: Int, api: Int)] = []
                for service in images.services {
                    let deployment = try await run.deployment(service, rendered: rendered)
                    let env = deployment["env"] as? [String: String] ?? [:]
                    let mounts = Set(deployment["mounts"] as? [String] ?? [])
                    #expect(mounts.isSubset(of: ["/tmp", "/data", "/etc/fleet/jwt"]), "\(service): a mount this test does not give: \(mounts)")
                    #expect(deployment["read_only_root"] as? Bool == true && deployment["drop_capabilities"] as? [String] == ["ALL"])
                    let user = deployment["user"] as? Int ?? -1, group = deployment["group"] as? Int ?? -1
                    #expect(user == 10001, "\(service) runs as \(user)")
                    let (api, admin) = (try FreePort.next(), try FreePort.next())
                    let container = "\(run.name)-\(service)"
                    var arguments = [
                        "run", "--detach", "--name", container, "--network", run.network, "--network-alias", service,
                        "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,size=64m,mode=1777", "--volume", "/data",
                        "--user", "\(user):\(group)", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
                        "--publish", "127.0.0.1:\(api):\(deployment["ports"].flatMap { ($0 as? [String: Int])?["http"] } ?? 8080)",
                        "--publish", "127.0.0.1:\(admin):\(deployment["ports"].flatMap { ($0 as? [String: Int])?["admin"] } ?? 9090)",
                    ]
                    if mounts.contains("/etc/fleet/jwt") { arguments += ["--volume", "\(key):/etc/fleet/jwt/private-key.pem:ro"] }
                    for (name, value) in env.sorted(by: { $0.key < $1.key }) { arguments += ["--env", "\(name)=\(value)"] }
                    arguments.append(images.name(service))
                    try await Containers.podman(arguments)
                    started.append((service, container, admin, api))
                }
                for entry in started {
                    try await Containers.waitUntilReady(entry.service, adminPort: entry.admin, logsOf: entry.container)
                    #expect(try await ServiceProcess.request(port: entry.admin, "/livez").status == .ok)
                    let info = try Containers.json(try await ServiceProcess.request(port: entry.admin, "/info").body)
                    #expect(info["version"] as? String == run.tag, "\(entry.service) /info: \(info)")
                    let state = try await Containers.inspect(entry.container, "{{.State.Pid}} {{.HostConfig.ReadonlyRootfs}}")
                    let fields = state.split(separator: " ")
                    #expect(fields.last == "true", "\(entry.service): the root filesystem is writable")
                    #expect(Containers.uids(ofProcess: fields.first.map(String.init) ?? "") == "10001", "\(entry.service) does not run as uid 10001")
                }
                if let gateway = started.first(where: { $0.service == "gateway" }) {
                    let status = try await ServiceProcess.request(port: gateway.api, "/api/status")
                    let body = String(buffer: status.body ?? .init())
                    #expect(status.status == .ok, "gateway /api/status: \(body)")
                    #expect(!body.contains("\"degraded\":[\""), "gateway /api/status is degraded: \(body)")
                }
                try await Containers.podman(["stop", "--time", "40"] + started.map(\.container), timeout: 120)
                for entry in started {
                    let code = try await Containers.inspect(entry.container, "{{.State.ExitCode}}")
                    let logs = code == "0" ? "" : await Containers.logs(entry.container)
                    #expect(code == "0", "\(entry.service) exited \(code) on SIGTERM: \(logs)")
                }
                print("ContainerTests: \(images.report)")
            }
        }

        /// The local overlay as rendered (`make k8s-render ENV=local`), one service's Deployment
        /// and ConfigMaps per `podman kube play` on one network where each pod answers to its
        /// service's name, its ports given hostIP 127.0.0.1 and a free host port (podman 4.3 would
        /// publish every containerPort on all interfaces at the same number); users' key is a podman
        /// secret named like the Kubernetes Secret. Every pod gets ready, a token signed with that
        /// key writes an item (catalog checks it with users' JWKS) and places an order (orders
        /// reserves through catalog), the gateway (once it exists) answers /api/status and
        /// /api/overview, SIGTERM stops every container with exit 0, and after `podman kube down`
        /// no pod, container, volume, secret, network or port of the test is left.
        @Test(.timeLimit(.minutes(45)))
        func theRenderedLocalOverlayRunsAsPodsUnderKubePlayAndKubeDownLeavesNothing() async throws {
            try #require(Containers.podmanWorks, "podman cannot run containers on this machine (CI=true)")
            let run = try ContainerRun(prefix: "play")
            try await run.cleaningUp {
                let images = try await Containers.buildImages(tag: run.tag)
                let rendered = try await run.render()
                try await run.claimKubeNames(images.services)
                try await run.createNetwork()
                try await run.createSecret(key: try run.signingKey())
                var ports: [String: (api: Int, admin: Int)] = [:]
                var arguments = ["play", rendered, run.folder + "/play"]
                for service in images.services {
                    ports[service] = (try FreePort.next(), try FreePort.next())
                    arguments += ["--service", "\(service)=\(ports[service]!.api),\(ports[service]!.admin)"]
                }
                let files = try Containers.json(Data(try await Containers.python("container_fleet.py", arguments).utf8)) as? [String: String] ?? [:]
                for service in images.services {
                    let file = try #require(files[service])
                    run.played.append(file)
                    try await Containers.podman(["kube", "play", "--network", "\(run.network):alias=\(service)", "--annotation", "io.fleet.test=\(run.name)", file])
                }
                for service in images.services {
                    try await Containers.waitUntilReady(service, adminPort: ports[service]!.admin, logsOf: "\(service)-pod-0-\(service)")
                    let state = try await Containers.inspect("\(service)-pod-0-\(service)", "{{.State.Pid}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}")
                    #expect(state.hasSuffix(" true 10001") || state.hasSuffix(" true 10001:10001"), "\(service): \(state)")
                    #expect(Containers.uids(ofProcess: String(state.split(separator: " ").first ?? "")) == "10001")
                }
                if let users = ports["users"], let catalog = ports["catalog"], let orders = ports["orders"] {
                    let bearer: HTTPFields = [.authorization: "Bearer \(try run.issuer.token())"]
                    let item = try await ServiceProcess.request(port: catalog.api, "/items", method: .post, headers: bearer, body: #"{"name": "Lamp", "price": 19.5, "stock": 3}"#)
                    #expect(item.status == .created, "catalog (tokens checked with users' JWKS): \(String(buffer: item.body ?? .init()))")
                    let itemID = try Containers.json(item.body)["id"] as? Int ?? 1
                    var orderHeaders = bearer
                    orderHeaders[try #require(HTTPField.Name("Idempotency-Key"))] = "container-test-\(run.name)"
                    let order = try await ServiceProcess.request(port: orders.api, "/orders", method: .post, headers: orderHeaders, body: #"{"lines": [{"item_id": \#(itemID), "quantity": 2}]}"#)
                    #expect(order.status == .created, "orders (reserving through catalog): \(String(buffer: order.body ?? .init()))")
                    let stock = try Containers.json(try await ServiceProcess.request(port: catalog.api, "/items/\(itemID)").body)["stock"] as? Int
                    #expect(stock == 1, "the order reserved its stock at catalog")
                    #expect(try await ServiceProcess.request(port: users.api, "/.well-known/jwks.json").status == .ok)
                }
                if let gateway = ports["gateway"] {
                    for path in ["/api/status", "/api/overview"] {
                        let answer = try await ServiceProcess.request(port: gateway.api, path)
                        let body = String(buffer: answer.body ?? .init())
                        #expect(answer.status == .ok, "gateway \(path): \(body)")
                        #expect(!body.contains("\"degraded\":[\""), "gateway \(path) is degraded: \(body)")
                    }
                }
                let pods = images.services.map { "\($0)-pod-0" }
                try await Containers.podman(["pod", "stop", "--time", "40"] + pods, timeout: 120)
                for service in images.services {
                    let code = try await Containers.inspect("\(service)-pod-0-\(service)", "{{.State.ExitCode}}")
                    let logs = code == "0" ? "" : await Containers.logs("\(service)-pod-0-\(service)")
                    #expect(code == "0", "\(service) exited \(code) on SIGTERM: \(logs)")
                }
                for file in run.played.reversed() {
                    try await Containers.podman(["kube", "down", file], timeout: 120)
                }
                run.played = []
                try await run.removeSecret()
                let left = try await run.leftovers(images.services)
                #expect(left.isEmpty, "left behind by kube down: \(left)")
                for port in ports.values.flatMap({ [$0.api, $0.admin] }) {
                    #expect((try? RawHTTPConnection(port: port)) == nil, "port \(port) is still open")
                }
                print("ContainerTests: kube play of \(images.services.joined(separator: ", ")) from the rendered local overlay passed")
            }
        }
    }
}

/// podman, the scripts and the helpers the container tests run, with this repository's
/// containers.conf (scripts/containers.conf: no default ulimits, runc).
enum Containers {
    static let root = BuiltProducts.repositoryRoot
    static let underCI = ProcessInfo.processInfo.environment["CI"] == "true"
    static var environment: [String: String] {
        ["CONTAINERS_CONF": ProcessInfo.processInfo.environment["CONTAINERS_CONF"] ?? root + "/scripts/containers.conf", "CONTAINER_TOOL": "podman"]
    }

    /// Whether podman can run containers: it is installed, `podman info` answers, and the tests run
    /// as root (the base image is made with mmdebstrap, which needs root).
    static let podmanWorks: Bool = {
        guard getuid() == 0 else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["timeout", "60", "podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()

    /// Runs podman (under `timeout`), requiring exit 0; returns its output.
    @discardableResult
    static func podman(_ arguments: [String], timeout: Int = 300) async throws -> String {
        let result = try await Command.run(["timeout", "--kill-after=10", String(timeout), "podman"] + arguments, environment: environment)
        guard result.status == 0 else { throw HarnessError("podman \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)") }
        return result.output
    }

    /// One `podman inspect --format` field of a container, trimmed.
    static func inspect(_ container: String, _ format: String) async throws -> String {
        try await podman(["inspect", "--type", "container", "--format", format, container]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The last lines a container logged, for failure messages.
    static func logs(_ container: String) async -> String {
        let result = try? await Command.run(["timeout", "30", "podman", "logs", "--tail", "40", container], environment: environment)
        return result?.output ?? "(no logs)"
    }

    /// Runs a script of the repository (under `timeout`), requiring exit 0; returns its output.
    @discardableResult
    static func script(_ path: String, _ arguments: [String] = [], environment extra: [String: String] = [:], timeout: Int = 600) async throws -> String {
        let result = try await Command.run(["timeout", "--kill-after=10", String(timeout), root + "/" + path] + arguments,
                                           environment: environment.merging(extra) { _, new in new })
        guard result.status == 0 else {
            // A build's errors can be far from the end of its output.
            let errors = result.output.split(separator: "\n").filter { $0.contains("error:") }.prefix(20).joined(separator: "\n")
            throw HarnessError("\(path) \(arguments.joined(separator: " ")) failed (\(result.status)): \(errors)\n…\(result.output.suffix(6000))")
        }
        return result.output
    }

    /// A helper of Tests/Tools run with python3 (it moves itself into .venv-test, which the first
    /// run installs); returns the JSON object it printed.
    @discardableResult
    static func python(_ tool: String, _ arguments: [String]) async throws -> String {
        let result = try await Command.run(["timeout", "900", "python3", root + "/Tests/Tools/" + tool] + arguments,
                                           environment: ["PYTHONDONTWRITEBYTECODE": "1"])
        guard result.status == 0 else { throw HarnessError("\(tool) \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.output)") }
        // stdout comes first in `output`, then stderr: the last line that is a JSON object.
        return result.output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? ""
    }

    /// The images of every service, tagged localhost/fleet-<service>:<tag>.
    struct Images {
        var services: [String]
        var tag: String
        var report: String
        func name(_ service: String) -> String { "localhost/fleet-\(service):\(tag)" }
    }

    /// release or debug (the default): which build the images package.
    static let binaryBuild = ProcessInfo.processInfo.environment["FLEET_CONTAINER_BINARIES"] == "release" ? "release" : "debug"

    /// Makes the base image (cached), the binaries (`binaryBuild`) and the image of every
    /// service through the Dockerfile's prebuilt path, timing each step and measuring each image.
    static func buildImages(tag: String) async throws -> Images {
        let services = try await script("scripts/images.sh", ["services"]).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        try #require(!services.isEmpty, "no service found in Package.swift")
        let clock = ContinuousClock()
        var started = clock.now
        let base = try await script("scripts/container-base.sh", timeout: 900).split(separator: "\n").last.map(String.init) ?? ""
        let baseTime = clock.now - started
        started = clock.now
        try await script("scripts/images.sh", ["binaries"], environment: ["BINARY_BUILD": binaryBuild], timeout: 2400)
        let binariesTime = clock.now - started
        started = clock.now
        let variables = ["BUILD": "local", "BINARY_BUILD": binaryBuild, "REGISTRY": "localhost", "VERSION": tag, "RUNTIME_IMAGE": base]
        try await script("scripts/images.sh", ["build"], environment: variables, timeout: 900)
        let imagesTime = clock.now - started
        let baseSize = Int(try await podman(["image", "inspect", "--format", "{{.Size}}", base]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        var sizes: [String] = []
        for service in services {
            let size = Int(try await podman(["image", "inspect", "--format", "{{.Size}}", "localhost/fleet-\(service):\(tag)"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            sizes.append("\(service) \(size / 1_000_000) MB (\((size - baseSize) / 1_000_000) MB above the base)")
        }
        let report = "base image \(base) \(baseSize / 1_000_000) MB ready in \(baseTime); \(binaryBuild) binaries in \(binariesTime); "
            + "\(services.count) images in \(imagesTime): " + sizes.joined(separator: ", ")
        return Images(services: services, tag: tag, report: report)
    }

    /// Waits (up to 2 minutes) until `/readyz` answers 200 on the admin port.
    static func waitUntilReady(_ service: String, adminPort: Int, logsOf container: String) async throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            if let answer = try? await ServiceProcess.request(port: adminPort, "/readyz"), answer.status == .ok { return }
            try await Task.sleep(for: .milliseconds(250))
        }
        let last = try? await ServiceProcess.request(port: adminPort, "/readyz")
        throw HarnessError("\(service) not ready within 2 minutes (\(last.map { String(buffer: $0.body ?? .init()) } ?? "no answer")): \(await logs(container))")
    }

    /// The real, effective, saved and filesystem uids of a process (from /proc), when all are one.
    static func uids(ofProcess pid: String) -> String? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Uid:") })
        else { return nil }
        let ids = Set(line.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().map(String.init))
        return ids.count == 1 ? ids.first : nil
    }

    static func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func json(_ body: ByteBuffer?) throws -> [String: Any] {
        try json(Data(String(buffer: body ?? .init()).utf8))
    }
}

/// What one test makes in podman, named after a random run id, and removes again (also when the
/// test fails or is cancelled): containers, pods played from files, the network, the podman secret
/// and the volume podman makes of it, the images of the run's tag, the temporary folder.
final class ContainerRun: @unchecked Sendable {
    let name: String
    let tag: String
    let folder: String
    let network: String
    let issuer: TestIssuer
    var played: [String] = []
    private var secretMade = false
    private var lock: Int32 = -1

    init(prefix: String) throws {
        let id = String(UUID().uuidString.prefix(8)).lowercased()
        name = "fleet-test-\(prefix)-\(id)"
        tag = "test-\(id)"
        network = name
        folder = try TemporaryDirectory.make(prefix: "containers-\(prefix)")
        issuer = try TestIssuer()
    }

    /// Runs `body`, then removes everything the run made, whether `body` passed, failed or was cancelled.
    func cleaningUp(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await Task.detached { await self.removeEverything() }.value
            throw error
        }
        await Task.detached { await self.removeEverything() }.value
    }

    /// The local overlay rendered with this run's images (`make k8s-render ENV=local`).
    func render() async throws -> String {
        let file = folder + "/local.yaml"
        try await Containers.script("scripts/k8s-render.sh", ["local", file], environment: ["REGISTRY": "localhost", "VERSION": tag])
        return file
    }

    /// What the service's Deployment gives its container (Tests/Tools/container_fleet.py env).
    func deployment(_ service: String, rendered: String) async throws -> [String: Any] {
        try Containers.json(Data(try await Containers.python("container_fleet.py", ["env", rendered, service]).utf8))
    }

    func createNetwork() async throws {
        try await Containers.podman(["network", "create", network])
    }

    /// users' signing key as a file the container's uid can read (the Secret's key private-key.pem).
    func signingKey() throws -> String {
        let file = folder + "/private-key.pem"
        try FileManager.default.copyItem(atPath: issuer.pemFile, toPath: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file)
        return file
    }

    /// The Secret users-jwt of the manifests, as the podman secret kube play mounts.
    func createSecret(key: String) async throws {
        let version = try await Containers.podman(["version", "--format", "{{.Client.Version}}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let file = folder + "/users-jwt.yaml"
        try await Containers.python("container_fleet.py", ["podman-secret", "users-jwt", "private-key.pem", key, file, version])
        try await Containers.podman(["secret", "create", "users-jwt", file])
        secretMade = true
    }

    func removeSecret() async throws {
        guard secretMade else { return }
        try await Containers.podman(["secret", "rm", "users-jwt"])
        // podman makes a volume of a secret volume, named after it, and kube down keeps it.
        _ = try? await Containers.podman(["volume", "rm", "--force", "users-jwt"])
        secretMade = false
    }

    /// Pods, volumes and the secret are named by the manifests (users-pod-0, users-data, users-jwt),
    /// not by the run: takes the machine-wide lock for them (another checkout's test waits), then
    /// removes what an earlier run of this test left (its pods carry the annotation io.fleet.test)
    /// and refuses names podman holds for anything else.
    func claimKubeNames(_ services: [String]) async throws {
        let path = NSTemporaryDirectory() + "fleet-kube-play.lock"
        lock = open(path, O_CREAT | O_RDWR, 0o644)
        let deadline = ContinuousClock.now + .seconds(1200)
        while flock(lock, LOCK_EX | LOCK_NB) != 0 {
            try #require(ContinuousClock.now < deadline, "another kube play test held \(path) for 20 minutes")
            try await Task.sleep(for: .seconds(1))
        }
        var stale = false
        for service in services {
            let pod = "\(service)-pod-0"
            guard let infra = try? await Containers.podman(["pod", "inspect", "--format", "{{.InfraContainerID}}", pod]) else { continue }
            let mark = (try? await Containers.inspect(infra.trimmingCharacters(in: .whitespacesAndNewlines), "{{index .Config.Annotations \"io.fleet.test\"}}")) ?? ""
            try #require(!mark.isEmpty && mark != "<no value>", "podman has a pod \(pod) that no fleet test made: remove it first")
            _ = try? await Containers.podman(["pod", "rm", "--force", pod])
            stale = true
        }
        let volumes = try await Containers.podman(["volume", "ls", "--format", "{{.Name}}"]).split(separator: "\n").map(String.init)
        let named = Set(services.flatMap { ["\($0)-data", "\($0)-tmp"] } + ["users-jwt"]).intersection(volumes)
        let secrets = try await Containers.podman(["secret", "ls", "--format", "{{.Name}}"]).split(separator: "\n").map(String.init)
        if stale {
            for volume in named { _ = try? await Containers.podman(["volume", "rm", "--force", volume]) }
            if secrets.contains("users-jwt") { _ = try? await Containers.podman(["secret", "rm", "users-jwt"]) }
        } else {
            try #require(named.isEmpty, "podman has volumes \(named.sorted()) that kube play would reuse: remove them first")
            try #require(!secrets.contains("users-jwt"), "podman has a secret users-jwt that this test would replace: remove it first")
        }
    }

    /// What is still there of the run's pods, containers, volumes, secret and network.
    func leftovers(_ services: [String]) async throws -> [String] {
        var left: [String] = []
        let pods = try await Containers.podman(["pod", "ps", "--format", "{{.Name}}"]).split(separator: "\n").map(String.init)
        left += pods.filter { pod in services.contains { pod.hasPrefix("\($0)-pod-") } }.map { "pod \($0)" }
        let containers = try await Containers.podman(["ps", "--all", "--format", "{{.Names}}"]).split(separator: "\n").map(String.init)
        left += containers.filter { container in services.contains { container.hasPrefix("\($0)-pod-") } || container.hasPrefix(name) }.map { "container \($0)" }
        let volumes = try await Containers.podman(["volume", "ls", "--format", "{{.Name}}"]).split(separator: "\n").map(String.init)
        let ours = Set(services.flatMap { ["\($0)-data", "\($0)-tmp", "\($0)-jwt"] })
        left += volumes.filter(ours.contains).map { "volume \($0)" }
        let secrets = try await Containers.podman(["secret", "ls", "--format", "{{.Name}}"]).split(separator: "\n").map(String.init)
        left += secrets.filter { $0 == "users-jwt" }.map { "secret \($0)" }
        return left
    }

    private func removeEverything() async {
        for file in played.reversed() {
            _ = try? await Containers.podman(["kube", "down", file], timeout: 120)
        }
        played = []
        if let names = try? await Containers.podman(["ps", "--all", "--format", "{{.Names}}"]) {
            let ours = names.split(separator: "\n").map(String.init).filter { $0.hasPrefix(name) }
            if !ours.isEmpty { _ = try? await Containers.podman(["rm", "--force", "--volumes", "--time", "10"] + ours, timeout: 120) }
        }
        try? await removeSecret()
        _ = try? await Containers.podman(["network", "rm", "--force", network])
        if let images = try? await Containers.podman(["images", "--format", "{{.Repository}}:{{.Tag}}"]) {
            let ours = images.split(separator: "\n").map(String.init).filter { $0.hasPrefix("localhost/fleet-") && $0.hasSuffix(":\(tag)") }
            if !ours.isEmpty { _ = try? await Containers.podman(["rmi", "--force"] + ours) }
        }
        try? FileManager.default.removeItem(atPath: folder)
        if lock >= 0 {
            flock(lock, LOCK_UN)
            close(lock)
            lock = -1
        }
    }
}
