import Foundation
import Subprocess

/// Runs a command to completion and captures its output, through swift-subprocess, which closes
/// every inherited descriptor in the child: a daemon the command starts (pg_ctl starts the server)
/// then cannot hold our pipes or process monitor open.
public enum Command {
    /// Exit status and output of a finished command.
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    /// Runs `command` (first element: the executable, looked up in PATH) with extra `environment`.
    public static func run(_ command: [String], environment: [String: String] = [:]) async throws -> Result {
        var updates: [Subprocess.Environment.Key: String?] = [:]
        for (key, value) in environment { updates[Subprocess.Environment.Key(stringLiteral: key)] = value }
        let result = try await Subprocess.run(
            .name(command[0]),
            arguments: Arguments(Array(command.dropFirst())),
            environment: .inherit.updating(updates),
            output: .string(limit: 4 << 20),
            error: .string(limit: 4 << 20)
        )
        let status: Int32
        switch result.terminationStatus {
        case .exited(let code): status = Int32(code)
        case .signaled(let signal): status = 128 + Int32(signal)
        }
        return Result(status: status, output: result.standardOutput + result.standardError)
    }
}
