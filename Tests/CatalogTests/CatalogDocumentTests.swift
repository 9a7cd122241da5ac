import Catalog
import Foundation
import HummingbirdTesting
import ServiceKitTesting
import Testing

/// The catalog's OpenAPI document is valid 3.1, complete, and true to what the service answers.
@Suite struct CatalogDocumentTests {
    @Test func theDocumentIsValidAndItsSchemasAcceptEveryRealAnswer() async throws {
        let parity = BuiltProducts.repositoryRoot + "/Tests/Parity"
        // The writes of the steps carry a token of this issuer; the service checks it against its key.
        let issuer = try TestIssuer()
        let token = try issuer.token()
        try await InProcessCatalog.with { service in
            try await service.api(.live, overrides: issuer.overrides()) { client async throws in
                let port = try #require(client.port)
                let result = try await Command.run(
                    [
                        "python3", parity + "/check_openapi.py", "--base", "http://127.0.0.1:\(port)", "--steps", parity + "/catalog-steps.json",
                        "--bearer", token,
                    ],
                    environment: ["PYTHONDONTWRITEBYTECODE": "1"]
                )
                #expect(result.status == 0, "\(result.output)")
            }
        }
    }

    @Test func everyRouteIsDocumentedWithItsInputsAndErrors() async throws {
        try await InProcessCatalog.with { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/openapi.json", method: .get)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                #expect(document["openapi"] as? String == "3.1.1")
                let paths = try #require(document["paths"] as? [String: [String: Any]])
                #expect(Set(paths.keys) == ["/items", "/items/{id}", "/items/{id}/reserve", "/items/{id}/release", "/items/{id}/image"])
                let read = try #require(paths["/items/{id}"]?["get"] as? [String: Any])
                #expect(read["operationId"] as? String == "get_items_id")
                #expect(read["tags"] as? [String] == ["items"])
                let responses = try #require(read["responses"] as? [String: Any])
                #expect(Set(responses.keys) == ["200", "304", "404", "422"])
                let notModified = try #require(responses["304"] as? [String: Any])
                #expect((notModified["description"] as? String)?.contains("If-None-Match") == true)
                #expect(notModified["content"] == nil, "a 304 has no body")
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

    @Test func everyOperationCarriesItsSummaryAndDescription() async throws {
        try await InProcessCatalog.with { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/openapi.json", method: .get)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
                var summaries: [String: String] = [:]
                var descriptions: [String: String] = [:]
                for (path, operations) in paths {
                    for (method, operation) in operations {
                        summaries["\(method) \(path)"] = operation["summary"] as? String
                        descriptions["\(method) \(path)"] = operation["description"] as? String
                    }
                }
                #expect(summaries == [
                    "post /items": "Create an item",
                    "get /items": "List items",
                    "get /items/{id}": "Read an item",
                    "patch /items/{id}": "Change some fields of an item",
                    "delete /items/{id}": "Delete an item",
                    "post /items/{id}/reserve": "Reserve stock",
                    "post /items/{id}/release": "Give reserved stock back",
                    "post /items/{id}/image": "Upload the item's image",
                ])
                #expect(descriptions == [
                    "get /items": "Filters by words (`q`) and tags, newest last.",
                    "get /items/{id}": "Answers 304 when `If-None-Match` names the current ETag.",
                    "post /items/{id}/reserve": "Used by orders; atomic, 409 when the stock is short. With `reservation_id` a retry reserves nothing more, and an id already released reserves nothing (409).",
                    "post /items/{id}/release": "Orders' compensation. With `reservation_id` it releases that reservation once: a retry gives nothing more back.",
                ])
            }
        }
    }

    @Test func listingDocumentsPaginationFromTheSharedDependency() async throws {
        try await InProcessCatalog.with { service in
            try await service.api { client async throws in
                let response = try await client.execute(uri: "/openapi.json", method: .get)
                let document = try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                let list = try #require((document["paths"] as? [String: [String: [String: Any]]])?["/items"]?["get"])
                let parameters = try #require(list["parameters"] as? [[String: Any]])
                #expect(parameters.map { $0["name"] as? String } == ["q", "tag", "limit", "offset"])
                let limit = try #require(parameters.first { $0["name"] as? String == "limit" }?["schema"] as? [String: Any])
                #expect(limit["default"] as? Int == 50)
                #expect(limit["minimum"] as? Int == 1)
                #expect(limit["maximum"] as? Int == 500)
                #expect(list["tags"] as? [String] == ["items"])
            }
        }
    }
}
