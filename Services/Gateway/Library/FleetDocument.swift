import CurlHTTP
import Foundation
import ServiceKit

/// The gateway's `/openapi.json`: its own document with every proxied service's merged in, so
/// `/docs` shows the whole fleet and its Authorize button signs in through the proxied `/token`.
///
/// Paths are the services' own (the proxy keeps them). Component schemas that are the same in
/// two documents are kept once; a name that two documents define differently is prefixed with
/// the service's name (`Catalog_Item`) in that service's paths and schemas, never overwritten.
/// A service that does not answer is listed in `info.x-fleet-degraded` and its paths are absent.
struct FleetDocument: Sendable {
    let fleet: FleetCalls

    /// Which of a service's paths the gateway proxies.
    static func isProxied(_ path: String) -> Bool {
        ["/users", "/items", "/orders", "/token"].contains { path == $0 || path.hasPrefix($0 + "/") }
    }

    func compose(own: Data) async throws -> Data {
        guard var document = try JSONSerialization.jsonObject(with: own) as? [String: Any] else { return own }
        let peers = fleet.services
        let fetched = await fleet.withinDeadline {
            await withTaskGroup(of: (Int, SendableDocument).self) { group in
                for (index, peer) in peers.enumerated() {
                    group.addTask {
                        guard let response = try? await peer.execute(peer.request(.get, "/openapi.json")), response.status == .ok,
                            let bytes = try? await response.body.collect(upTo: 8 << 20)
                        else { return (index, SendableDocument(value: nil)) }
                        return (index, SendableDocument(value: try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]))
                    }
                }
                var all: [(Int, SendableDocument)] = []
                for await entry in group { all.append(entry) }
                return all.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        var degraded: [String] = []
        for (peer, answer) in zip(peers, fetched) {
            guard let other = answer.value else {
                degraded.append(peer.name)
                continue
            }
            Self.merge(other, from: peer.name, into: &document)
        }
        if !degraded.isEmpty, var info = document["info"] as? [String: Any] {
            info["x-fleet-degraded"] = degraded
            document["info"] = info
        }
        return try JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])
    }

    /// Merges `other`'s proxied paths and their components into `document`.
    static func merge(_ other: [String: Any], from service: String, into document: inout [String: Any]) {
        var components = document["components"] as? [String: Any] ?? [:]
        let theirs = other["components"] as? [String: Any] ?? [:]
        var renames: [String: String] = [:]
        var schemas = components["schemas"] as? [String: Any] ?? [:]
        let prefix = service.prefix(1).uppercased() + service.dropFirst() + "_"
        for (name, schema) in theirs["schemas"] as? [String: Any] ?? [:] {
            if let existing = schemas[name], !NSDictionary(dictionary: ["s": existing]).isEqual(to: ["s": schema]) {
                renames[name] = prefix + name
            }
        }
        for (name, schema) in theirs["schemas"] as? [String: Any] ?? [:] {
            schemas[renames[name] ?? name] = rewrite(schema, renames)
        }
        components["schemas"] = schemas
        for (kind, value) in theirs where kind != "schemas" {
            var merged = components[kind] as? [String: Any] ?? [:]
            for (name, entry) in value as? [String: Any] ?? [:] where merged[name] == nil { merged[name] = entry }
            components[kind] = merged
        }
        document["components"] = components
        var paths = document["paths"] as? [String: Any] ?? [:]
        for (path, operations) in other["paths"] as? [String: Any] ?? [:] where isProxied(path) && paths[path] == nil {
            paths[path] = rewrite(operations, renames)
        }
        document["paths"] = paths
        var tags = document["tags"] as? [Any] ?? []
        let known = Set(tags.compactMap { ($0 as? [String: Any])?["name"] as? String })
        for tag in other["tags"] as? [Any] ?? [] where !known.contains(((tag as? [String: Any])?["name"] as? String) ?? "") {
            tags.append(tag)
        }
        if !tags.isEmpty { document["tags"] = tags }
    }

    /// `value` with every `$ref` to a renamed schema pointing at its new name.
    static func rewrite(_ value: Any, _ renames: [String: String]) -> Any {
        guard !renames.isEmpty else { return value }
        if var object = value as? [String: Any] {
            for (key, entry) in object {
                if key == "$ref", let ref = entry as? String, ref.hasPrefix("#/components/schemas/"),
                    let renamed = renames[String(ref.dropFirst("#/components/schemas/".count))]
                {
                    object[key] = "#/components/schemas/" + renamed
                } else {
                    object[key] = rewrite(entry, renames)
                }
            }
            return object
        }
        if let array = value as? [Any] { return array.map { rewrite($0, renames) } }
        return value
    }
}

/// A decoded document crossing a task boundary once, read by one task after.
struct SendableDocument: @unchecked Sendable {
    let value: [String: Any]?
}
