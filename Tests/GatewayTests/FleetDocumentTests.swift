import Foundation
import Testing

@testable import Gateway

/// Merging the fleet's documents: shared schemas kept once, clashing ones prefixed (never
/// overwritten) with every `$ref` of their service following, and only proxied paths taken.
@Suite struct FleetDocumentTests {
    static func schema(_ properties: [String]) -> [String: Any] {
        ["type": "object", "properties": Dictionary(uniqueKeysWithValues: properties.map { ($0, ["type": "string"]) })]
    }

    static func document(paths: [String: Any], schemas: [String: Any]) -> [String: Any] {
        ["openapi": "3.1.1", "info": ["title": "t", "version": "1"], "paths": paths, "components": ["schemas": schemas]]
    }

    static func getting(_ schema: String) -> [String: Any] {
        ["get": ["responses": ["200": ["description": "ok", "content": ["application/json": ["schema": ["$ref": "#/components/schemas/\(schema)"]]]]]]]
    }

    @Test func aSchemaTwoServicesDefineDifferentlyIsPrefixedAndItsReferencesFollow() throws {
        var gateway = Self.document(paths: ["/api/overview": Self.getting("Overview")], schemas: ["Overview": Self.schema(["users"]), "Item": Self.schema(["id", "name"])])
        let catalog = Self.document(
            paths: ["/items/{id}": Self.getting("Item"), "/openapi.json": Self.getting("Item")],
            schemas: ["Item": Self.schema(["id", "name", "stock"]), "HTTPError": Self.schema(["detail"])])
        let users = Self.document(paths: ["/users": Self.getting("HTTPError")], schemas: ["HTTPError": Self.schema(["detail"])])
        FleetDocument.merge(catalog, from: "catalog", into: &gateway)
        FleetDocument.merge(users, from: "users", into: &gateway)

        let schemas = try #require((gateway["components"] as? [String: Any])?["schemas"] as? [String: Any])
        #expect(Set(schemas.keys) == ["Overview", "Item", "Catalog_Item", "HTTPError"], "\(schemas.keys)")
        let ownItem = try #require(schemas["Item"] as? [String: Any])
        #expect(Set((ownItem["properties"] as? [String: Any] ?? [:]).keys) == ["id", "name"], "the gateway's own Item is not overwritten")
        let paths = try #require(gateway["paths"] as? [String: Any])
        #expect(Set(paths.keys) == ["/api/overview", "/items/{id}", "/users"], "only proxied paths are taken")
        let reference = (((((paths["/items/{id}"] as? [String: Any])?["get"] as? [String: Any])?["responses"] as? [String: Any])?["200"] as? [String: Any])?["content"] as? [String: Any])
            .flatMap { (($0["application/json"] as? [String: Any])?["schema"] as? [String: Any])?["$ref"] as? String }
        #expect(reference == "#/components/schemas/Catalog_Item", "catalog's path points at its own, renamed Item")
    }
}
