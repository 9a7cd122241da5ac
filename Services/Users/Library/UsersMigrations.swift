import ServiceKit
import SQLKit

/// The users schema, one version at a time. Never edit an applied migration: add one.
enum UsersMigrations {
    static let all: [Migration] = [
        Migration(1, "create users") { db, engine in
            // Uniqueness is the database's: two registrations racing for one name cannot both win.
            // `email_key` is the address in lower case, so `Ann@x.org` and `ann@x.org` are one.
            try await db.raw("""
                CREATE TABLE users (
                    id \(unsafeRaw: engine.identityColumn),
                    username TEXT NOT NULL UNIQUE,
                    email TEXT NOT NULL,
                    email_key TEXT NOT NULL UNIQUE,
                    password_hash TEXT NOT NULL,
                    scopes TEXT NOT NULL DEFAULT '',
                    created_at TEXT NOT NULL)
                """).run()
        },
    ]
}
