import Postgres

/// Meltano's own system database tables on PostgreSQL, as its migrations leave them
/// (Meltano 4.4: `runs` was `job`, its `state` enum became a VARCHAR, `run_id` a UUID,
/// payload a VARCHAR holding JSON; `state` is the dedicated state table with JSON text
/// in VARCHAR columns). This tool never creates them, so the tests must.
public enum MeltanoSystemDB {
    public static func createTables(inSchema schema: String, on connection: Connection) throws {
        let schema = quoteIdentifier(schema)
        try connection.query("""
            CREATE TABLE \(schema).runs (
                id SERIAL PRIMARY KEY,
                job_name VARCHAR,
                state VARCHAR,
                started_at TIMESTAMP WITHOUT TIME ZONE,
                ended_at TIMESTAMP WITHOUT TIME ZONE,
                payload VARCHAR,
                payload_flags INTEGER,
                run_id UUID,
                trigger VARCHAR,
                last_heartbeat_at TIMESTAMP WITHOUT TIME ZONE
            )
            """)
        try connection.query("""
            CREATE TABLE \(schema).state (
                state_id VARCHAR(900) NOT NULL,
                partial_state VARCHAR,
                completed_state VARCHAR,
                updated_at TIMESTAMP WITHOUT TIME ZONE,
                PRIMARY KEY (state_id),
                UNIQUE (state_id)
            )
            """)
    }

    /// A `runs` row left RUNNING as a `meltano run` writes it (times in UTC, as Meltano
    /// stores them); `heartbeatSecondsAgo: nil` for a run that never sent one. Returns
    /// its id and run_id.
    @discardableResult
    public static func insertRunningRun(_ jobName: String, inSchema schema: String, on connection: Connection,
                                        startedMinutesAgo: Int, heartbeatSecondsAgo: Int?,
                                        payload: String = #"{"state": {}}"#) throws -> (id: String, runID: String) {
        let row = try connection.query("""
            INSERT INTO \(quoteIdentifier(schema)).runs (job_name, state, started_at, last_heartbeat_at, payload, payload_flags, run_id, trigger)
            VALUES ($1, 'RUNNING', (now() AT TIME ZONE 'UTC') - make_interval(mins => $2::int),
                    (now() AT TIME ZONE 'UTC') - make_interval(secs => $3::int), $4, 0, gen_random_uuid(), 'cli')
            RETURNING id::text, run_id::text
            """, [jobName, String(startedMinutesAgo), heartbeatSecondsAgo.map(String.init), payload]).rows.first
        return (row?[0] ?? "", row?[1] ?? "")
    }
}
