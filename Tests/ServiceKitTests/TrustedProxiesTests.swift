import ServiceKit
import Testing

/// Whose `X-Forwarded-For` is believed, and which address in it is the client.
@Suite struct TrustedProxiesTests {
    @Test func aTrustedProxyNamesTheClientAndAnyoneElseIsTheClientItself() throws {
        let trusted = try TrustedProxies(parsing: "127.0.0.0/8, 10.1.0.0/16, ::1")
        #expect(trusted.contains("127.0.0.1") && trusted.contains("10.1.200.3") && trusted.contains("::1"))
        #expect(!trusted.contains("10.2.0.1") && !trusted.contains("203.0.113.7"))
        // Through the gateway (trusted): the right-most address that is not a proxy.
        #expect(trusted.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "203.0.113.7")
        #expect(trusted.client(peer: "10.1.0.9", forwardedFor: "198.51.100.1, 203.0.113.7, 10.1.4.4") == "203.0.113.7")
        // A client cannot choose its key: from an untrusted peer the header is ignored.
        #expect(trusted.client(peer: "203.0.113.7", forwardedFor: "1.2.3.4") == "203.0.113.7")
        #expect(trusted.client(peer: "127.0.0.1", forwardedFor: nil) == "127.0.0.1")
        #expect(trusted.client(peer: "127.0.0.1", forwardedFor: "127.0.0.2") == "127.0.0.2", "only proxies in the chain: its first")
        #expect(TrustedProxies.none.client(peer: "127.0.0.1", forwardedFor: "203.0.113.7") == "127.0.0.1")
    }

    @Test func anEntryThatIsNeitherAnAddressNorABlockIsRefused() {
        for bad in ["10.0.0.0/33", "example.org", "300.1.1.1", "10.0.0/8"] {
            #expect(throws: TrustedProxiesError.self, "\(bad)") { try TrustedProxies(parsing: bad) }
        }
    }
}
