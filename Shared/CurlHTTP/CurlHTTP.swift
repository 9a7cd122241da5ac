// Placeholder replaced by the client implementation (issue 5).
