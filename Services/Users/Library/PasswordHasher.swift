import HummingbirdBcrypt
import NIOCore
import NIOPosix

/// bcrypt at the configured cost, on a thread pool of its own: a hash takes hundreds of
/// milliseconds of CPU, which must not stall an event loop or a thread of Swift's cooperative
/// pool. Not NIO's shared pool either: SQLite's calls run there, and a few logins at once would
/// hold up every query.
struct PasswordHasher: Sendable {
    /// `BCRYPT_COST`.
    let cost: Int
    let pool: NIOThreadPool

    /// One pool per process, as long-lived as NIO's own singleton, a thread per core.
    static let hashingPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: System.coreCount)
        pool.start()
        return pool
    }()

    init(cost: Int, pool: NIOThreadPool = PasswordHasher.hashingPool) {
        self.cost = cost
        self.pool = pool
        self.decoy = Self.decoyHash(cost: cost)
    }

    /// A hash of `password` with a fresh salt.
    func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await pool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether `password` matches `hash`. With no hash (no such user) the password is checked
    /// against a decoy of the same cost, so the answer takes as long either way: the time of a
    /// failed login does not tell whether the account exists.
    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let target = hash ?? decoy
        let matches = try await pool.runIfActive { Bcrypt.verify(password, hash: target) }
        return hash != nil && matches
    }

    /// A well-formed bcrypt hash at `cost` that no password matches in practice: checking a
    /// password against it costs what checking a real one does (bcrypt's time depends only on
    /// the cost in the hash), and nothing needs hashing at start-up.
    let decoy: String

    static func decoyHash(cost: Int) -> String {
        let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let salt = String((0..<22).map { _ in alphabet.randomElement()! })
        let digest = String((0..<31).map { _ in alphabet.randomElement()! })
        return "$2b$" + (cost < 10 ? "0\(cost)" : "\(cost)") + "$" + salt + digest
    }
}
