import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ServiceKitTesting
import Testing

/// The built `catalog` reports the git revision it was compiled from, stamped at build time by
/// the BuildStamp plugin: no environment variable is involved (`ServiceProcess` gives the process
/// only `PATH`, `PORT` and `ADMIN_PORT`, so no `GIT_REVISION`).
@Suite struct BuildRevisionTests {
    /// What `/info` says about the build.
    private struct Info: Decodable {
        var revision: String
        var dirty: Bool
    }

    /// Outside a git checkout (a source tarball) there is no revision to compare with.
    static let inGitCheckout = FileManager.default.fileExists(atPath: BuiltProducts.repositoryRoot + "/.git")

    @Test(.enabled(if: inGitCheckout, "needs a git checkout"))
    func infoAndBuildInfoCarryTheCommitTheBinaryWasBuiltFromAndWhetherTheTreeWasDirty() async throws {
        let root = BuiltProducts.repositoryRoot
        let head = try await Self.git(["rev-parse", "HEAD"], in: root)
        #expect(head.count == 40 && head.allSatisfy(\.isHexDigit), "git rev-parse HEAD: \(head)")
        let dirty = try await !Self.git(["--no-optional-locks", "status", "--porcelain", "--untracked-files=no"], in: root).isEmpty
        try await ServiceProcess.with("catalog") { catalog in
            try await catalog.waitUntilReady()
            let response = try await catalog.admin("/info")
            #expect(response.status == .ok)
            let info = try JSONDecoder().decode(Info.self, from: Data(String(buffer: response.body ?? ByteBuffer()).utf8))
            // A mismatch after a commit or a checkout means the binary predates it: build again.
            #expect(info.revision == head, "revision in /info")
            #expect(info.dirty == dirty, "dirty in /info; git status lists \(dirty ? "changes" : "none")")

            let metrics = String(buffer: try await catalog.admin("/metrics").body ?? ByteBuffer())
            let buildInfo = metrics.split(separator: "\n").filter { $0.hasPrefix("build_info{") }
            #expect(buildInfo.count == 1, "\(buildInfo)")
            #expect(buildInfo.first?.contains(#"revision="\#(head)""#) == true, "\(buildInfo)")
            #expect(buildInfo.first?.split(separator: " ").last.flatMap { Double($0) } == 1, "\(buildInfo)")
            #expect(await catalog.stop() == 0)
        }
    }

    /// Runs git in `directory` and returns its output without the trailing newline.
    private static func git(_ arguments: [String], in directory: String) async throws -> String {
        let result = try await Command.run(["git", "-C", directory] + arguments)
        try #require(result.status == 0, "git \(arguments.joined(separator: " ")): \(result.output)")
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
