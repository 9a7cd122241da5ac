import Catalog
import Foundation
import HummingbirdTesting
import ServiceKitTesting
import Testing

/// The catalog's OpenAPI document is valid 3.1, complete, and true to what the service answers.
@Suite struct CatalogDocumentTests {
    @Test func theDocumentIsValidAndItsSchemasAcceptEveryRealAnswer() async throws {
        let parity = BuiltProducts.repositoryRoot + "/Tests/Parity"
        try await InProcessService.with(CatalogService.definition) { service in
            try await service.api(.live) { client async throws in
                let port = try #require(client.port)
                let result = try await Command.run(
                    ["python3", parity + "/check_openapi.py", "--base", "http://127.0.0.1:\(port)", "--steps", parity + "/catalog-steps.json"],
                    environment: ["PYTHONDONTWRITEBYTECODE": "1"]
                )
                #expect(result.status == 0, "\(result.output)")
            }
        }
    }

    @Test func everyRouteIsDocumentedWithItsInputsAndErrors() async throws {
        try await InProcessService.with(CatalogService.definition) { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/openapi.json", method: .get)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(document["openapi"] as? String == "3.1.1")
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                #expect(Set(paths.keys) == ["/items", "/items/{id}", "/items/{id}/reserve", "/items/{id}/image"])
                let read = try #require(paths["/items/{id}"]?["get"] as? [String: Any])
                #expect(read["operationId"] as? String == "get_items_id")
                #expect(read["tags"] as? [String] == ["items"])
                let responses = try #require(read["responses"] as? [String: Any])
                #expect(Set(responses.keys) == ["200", "404", "422"])
                let parameters = try #require(read["parameters"] as? [[String: Any]])
                #expect(parameters.map { "\($0["in"]!):\($0["name"]!):\(($0["required"] as? Bool) ?? false)" }.sorted() == ["header:if-none-match:false", "path:id:true"])
                let reserve = try #require(paths["/items/{id}/reserve"]?["post"] as? [String: Any])
                #expect((reserve["responses"] as? [String: Any])?.keys.contains("409") == true)
                let upload = try #require(paths["/items/{id}/image"]?["post"] as? [String: Any])
                let content = try #require((upload["requestBody"] as? [String: Any])?["content"] as? [String: Any])
                #expect(content.keys.contains("multipart/form-data"))
                let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
                let create = try #require(schemas["ItemCreate"]?["properties"] as? [String: [String: Any]])
                #expect(create["name"]?["minLength"] as? Int == 1)
                #expect(create["name"]?["maxLength"] as? Int == 100)
                #expect(create["price"]?["exclusiveMinimum"] as? Double == 0)
                #expect(schemas["ItemCreate"]?["required"] as? [String] == ["name", "price"])
                let item = try #require(schemas["Item"]?["properties"] as? [String: Any])
                #expect(!item.keys.contains("version"), "hidden fields stay out of the document")
                for page in ["/docs", "/redoc"] {
                    let html = try await client.execute(uri: page, method: .get)
                    #expect(html.status == .ok)
                    #expect(String(buffer: html.body).contains("/openapi.json"))
                }
            }
        }
    }
}
