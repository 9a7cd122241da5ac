import Foundation

/// Loopback ports for test servers.
public enum FreePort {
    /// A port that was free on 127.0.0.1 a moment ago (the kernel picks it).
    public static func next() throws -> Int {
        let held = try ClosedPort()
        return held.port
    }
}

/// A loopback port held bound but not listening, for as long as this value lives: a connection to
/// it is refused, and no other process can take it meanwhile (a port from `FreePort.next()` may be
/// reused by another test's server on a busy machine).
public final class ClosedPort: Sendable {
    /// The port number.
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }
}
