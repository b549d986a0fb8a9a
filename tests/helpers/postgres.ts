import pg from 'pg';

const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  name: string;
  url: string;
  /** A pool for the test's own checks and fixtures. */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/**
 * A database of the test's own on the machine's PostgreSQL (trust auth on
 * 127.0.0.1), named uniquely and dropped afterwards: no other data is touched.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `tm_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }

  const url = ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  // pool.end() resolves before its clients' sockets are closed; the forced DROP below then
  // terminates them, and a pool without an error listener would throw that as uncaught.
  pool.on('error', () => {});
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: ADMIN_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
