import Foundation

/// The proxies whose `X-Forwarded-For` a service believes (`TRUSTED_PROXIES`: addresses and IPv4
/// CIDR blocks, comma-separated; loopback by default, where the gateway runs beside the
/// services). Behind the gateway every connection comes from the gateway, so a per-client limit
/// keyed on the connection's address would throttle every client together; through a trusted
/// proxy the client is the right-most address of `X-Forwarded-For` that is not itself a trusted
/// proxy. From anyone else the header is ignored, so a client cannot choose its own key.
public struct TrustedProxies: Sendable, Equatable {
    struct Block: Sendable, Equatable {
        var network: UInt32
        var mask: UInt32
    }
    var blocks: [Block]
    var exact: Set<String>

    /// Loopback, v4 and v6.
    public static let loopback = try! TrustedProxies(parsing: "127.0.0.0/8,::1")
    /// Trusts no one: the connection's address is always the client's.
    public static let none = TrustedProxies(blocks: [], exact: [])

    init(blocks: [Block], exact: Set<String>) {
        self.blocks = blocks
        self.exact = exact
    }

    /// Parses `127.0.0.0/8, 10.0.0.0/8, ::1`; throws on anything else.
    public init(parsing text: String) throws {
        var blocks: [Block] = []
        var exact: Set<String> = []
        for entry in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", maxSplits: 1)
            if parts.count == 2 {
                guard let network = Self.ipv4(String(parts[0])), let bits = Int(parts[1]), (0...32).contains(bits) else {
                    throw TrustedProxiesError(entry: entry)
                }
                let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
                blocks.append(Block(network: network & mask, mask: mask))
            } else if Self.ipv4(entry) != nil || entry.contains(":") {
                exact.insert(entry.lowercased())
            } else {
                throw TrustedProxiesError(entry: entry)
            }
        }
        self.init(blocks: blocks, exact: exact)
    }

    /// Whether `address` is one of the trusted proxies.
    public func contains(_ address: String) -> Bool {
        if exact.contains(address.lowercased()) { return true }
        guard let value = Self.ipv4(address) else { return false }
        return blocks.contains { value & $0.mask == $0.network }
    }

    /// The client of a request that came from `peer` with `forwardedFor`.
    public func client(peer: String, forwardedFor: String?) -> String {
        guard contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.last { !contains($0) } ?? hops.first ?? peer
    }

    static func ipv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return nil }
        var value: UInt32 = 0
        for octet in octets {
            guard let byte = UInt8(octet), octet.count <= 3 else { return nil }
            value = value << 8 | UInt32(byte)
        }
        return value
    }
}

/// A `TRUSTED_PROXIES` entry that is neither an address nor an IPv4 CIDR block.
public struct TrustedProxiesError: Error, CustomStringConvertible {
    public var entry: String
    public var description: String { "\(entry) is not an IP address or an IPv4 CIDR block" }
}
