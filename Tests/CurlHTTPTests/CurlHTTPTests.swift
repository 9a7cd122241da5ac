// Placeholder replaced by the client tests (issue 5).
