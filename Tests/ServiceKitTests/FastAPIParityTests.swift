import Foundation
import Hummingbird
import HummingbirdTesting
import ServiceKit
import ServiceKitTesting
import Testing

/// The same routes on ServiceKit and on FastAPI answer the same bad requests with the same
/// errors, and the generated document is valid OpenAPI 3.1 whose schemas accept real answers.
@Suite struct FastAPIParityTests {
    static let parity = BuiltProducts.repositoryRoot + "/Tests/Parity"

    func python(_ arguments: [String]) async throws -> Command.Result {
        try await Command.run(["python3"] + arguments, environment: ["PYTHONDONTWRITEBYTECODE": "1"])
    }

    @Test func everyBadRequestGetsTheLocAndTypeFastAPIGives() async throws {
        try await InProcessService.with(ParityService.definition) { service in
            try await service.api(.live) { client async throws in
                let port = try #require(client.port)
                let result = try await python([Self.parity + "/compare.py", "--servicekit", "http://127.0.0.1:\(port)"])
                #expect(result.status == 0, "\(result.output)")
                #expect(result.output.contains(" 0 mismatches"), "\(result.output)")
            }
        }
    }

    @Test func theParityDocumentIsValidAndDescribesRealAnswers() async throws {
        try await InProcessService.with(ParityService.definition) { service in
            try await service.api(.live) { client async throws in
                let port = try #require(client.port)
                let result = try await python([
                    Self.parity + "/check_openapi.py", "--base", "http://127.0.0.1:\(port)", "--steps", Self.parity + "/parity-steps.json",
                ])
                #expect(result.status == 0, "\(result.output)")
            }
        }
    }
}
