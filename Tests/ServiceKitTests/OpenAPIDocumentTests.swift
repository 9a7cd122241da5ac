import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Synchronization
import Testing

/// What the generated document says about models, and where the documentation pages load from.
@Suite struct OpenAPIDocumentTests {
    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    @Test func aModelsSchemaCarriesPatternEnumFormatItemCountsNestedReferencesAndDefaults() async throws {
        try await InProcessService.with(ParityService.definition) { service in
            try await service.api { client async throws in
                let document = try json(try await client.execute(uri: "/openapi.json", method: .get).body)
                let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
                let pet = try #require(schemas["PetIn"]?["properties"] as? [String: [String: Any]])
                let address = try #require(schemas["Address"]?["properties"] as? [String: [String: Any]])

                #expect(address["zip"]?["pattern"] as? String == "^[0-9]{5}$")
                #expect(pet["color"]?["enum"] as? [String] == ["red", "green", "blue"])
                #expect(pet["color"]?["default"] as? String == "red")
                #expect(pet["email"]?["format"] as? String == "email")
                #expect(pet["homepage"]?["format"] as? String == "uri")
                #expect(pet["tags"]?["minItems"] as? Int == 1)
                #expect(pet["tags"]?["maxItems"] as? Int == 3)
                #expect(pet["address"]?["$ref"] as? String == "#/components/schemas/Address")
                #expect((pet["previous"]?["items"] as? [String: Any])?["$ref"] as? String == "#/components/schemas/Address")
                #expect(pet["previous"]?["default"] as? [Any] != nil && (pet["previous"]?["default"] as? [Any])?.isEmpty == true)
                #expect(pet["vaccinated"]?["default"] as? Bool == false)
                #expect(Set(schemas["PetIn"]?["required"] as? [String] ?? []) == ["name", "age", "weight", "email", "tags", "address"])

                let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
                let body = (paths["/pets"]?["post"]?["requestBody"] as? [String: Any])?["content"] as? [String: [String: Any]]
                #expect((body?["application/json"]?["schema"] as? [String: Any])?["$ref"] as? String == "#/components/schemas/PetIn")
                let search = try #require(paths["/search"]?["get"]?["parameters"] as? [[String: Any]])
                let limit = search.first { $0["name"] as? String == "limit" }?["schema"] as? [String: Any]
                #expect(limit?["default"] as? Int == 10)
                let sort = search.first { $0["name"] as? String == "sort" }?["schema"] as? [String: Any]
                #expect(sort?["enum"] as? [String] == ["asc", "desc"])
                #expect(sort?["default"] as? String == "asc")
            }
        }
    }

    @Test func theDocsPagesLoadSwaggerUIAndReDocFromTheCDNByDefault() async throws {
        let cdn = DocsAssets.default
        #expect(cdn.swaggerJS == "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js")
        #expect(cdn.swaggerCSS == "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")
        #expect(cdn.redocJS == "https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js")
        try await InProcessService.with(DemoService.definition) { service in
            #expect(service.runtime.configuration.docsAssets == cdn)
            try await service.api { client async throws in
                let swagger = String(buffer: try await client.execute(uri: "/docs", method: .get).body)
                #expect(swagger.contains(#"<script src="\#(cdn.swaggerJS)">"#))
                #expect(swagger.contains(#"<link rel="stylesheet" href="\#(cdn.swaggerCSS)">"#))
                let redoc = String(buffer: try await client.execute(uri: "/redoc", method: .get).body)
                #expect(redoc.contains(#"<script src="\#(cdn.redocJS)">"#))
            }
        }
    }

    @Test func theDocsPagesLoadTheirAssetsFromTheDOCSVariables() async throws {
        let loaded = try ServiceConfiguration.load(service: "demo", defaultPort: 0, defaultAdminPort: 0, environment: EnvironmentReader([
            "DOCS_SWAGGER_JS_URL": "https://mirror.internal/swagger/bundle.js",
            "DOCS_SWAGGER_CSS_URL": "https://mirror.internal/swagger/ui.css",
            "DOCS_REDOC_JS_URL": "http://mirror.internal:8000/redoc.js",
        ]))
        try await InProcessService.with(DemoService.definition, configure: { $0.docsAssets = loaded.docsAssets }) { service in
            try await service.api { client async throws in
                let swagger = String(buffer: try await client.execute(uri: "/docs", method: .get).body)
                #expect(swagger.contains(#"<script src="https://mirror.internal/swagger/bundle.js">"#))
                #expect(swagger.contains(#"href="https://mirror.internal/swagger/ui.css""#))
                #expect(!swagger.contains("cdn.jsdelivr.net"))
                let redoc = String(buffer: try await client.execute(uri: "/redoc", method: .get).body)
                #expect(redoc.contains(#"<script src="http://mirror.internal:8000/redoc.js">"#))
                #expect(!redoc.contains("cdn.jsdelivr.net"))
            }
        }
    }

    @Test func operationsAreDescribedOnceWhenTheDocumentIsFirstAskedForNotAtStartUp() async throws {
        let definition = ServiceDefinition(name: "lazy-doc", defaultPort: 0, defaultAdminPort: 0) { router, _ in
            router.get("/counted") { (_: DescriptionCounter) -> NoContent in NoContent() }
        }
        try await InProcessService.with(definition) { service in
            try await service.api { client async throws in
                let before = DescriptionCounter.described.load(ordering: .relaxed)
                #expect(try await client.execute(uri: "/counted", method: .get).status == .noContent)
                #expect(DescriptionCounter.described.load(ordering: .relaxed) == before, "serving describes nothing")
                let first = try json(try await client.execute(uri: "/openapi.json", method: .get).body)
                #expect((first["paths"] as? [String: Any])?["/counted"] != nil)
                #expect(DescriptionCounter.described.load(ordering: .relaxed) == before + 1)
                _ = try await client.execute(uri: "/openapi.json", method: .get)
                #expect(DescriptionCounter.described.load(ordering: .relaxed) == before + 1, "described once")
            }
        }
    }
}

/// An input that counts how often its route is described.
struct DescriptionCounter: RouteInput {
    static let described = Atomic<Int>(0)
    static func resolve(in scope: RequestScope) async throws -> Self? { Self() }
    static func document(_ operation: inout OperationDescription) { described.add(1, ordering: .relaxed) }
}
