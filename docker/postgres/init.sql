-- Roles and the customer store's database (idempotent: passwords follow the given files).
-- Applied by entrypoint.sh on every start of compose's server, as its superuser over the
-- socket; and on AWS by `postgres-entrypoint bootstrap` (the store-bootstrap ECS task) as the
-- RDS master user, who is no superuser: hence no SUPERUSER/REPLICATION attributes below and
-- the temporary membership in churn_writer that CREATE DATABASE ... OWNER and ALTER DEFAULT
-- PRIVILEGES FOR ROLE need.
--   churn_writer  owns churn_store: the scorer migrates (`churn-score migrate`) and writes
--   churn_reader  CONNECT + SELECT only, read-only transactions: the API
--   mlflow        optional MLflow backend database (compose), only when MLFLOW_DB_PASSWORD is set
-- Nobody else may connect to churn_store, and the store's roles may not connect to mlflow.
\set ON_ERROR_STOP on
\set QUIET on
\set writer_password `cat "$POSTGRES_SECRETS_DIR/writer_password"`
\set reader_password `cat "$POSTGRES_SECRETS_DIR/reader_password"`

SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'churn_writer') AS create_writer,
       NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'churn_reader') AS create_reader,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = 'churn_store') AS create_store \gset
\if :create_writer
CREATE ROLE churn_writer;
\endif
\if :create_reader
CREATE ROLE churn_reader;
\endif
ALTER ROLE churn_writer WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'writer_password';
ALTER ROLE churn_reader WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';
-- Defence in depth: even a mistaken grant cannot let the API write.
ALTER ROLE churn_reader SET default_transaction_read_only = on;
GRANT churn_writer TO CURRENT_USER;
\if :create_store
CREATE DATABASE churn_store OWNER churn_writer;
\endif
REVOKE ALL ON DATABASE churn_store FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE churn_store TO churn_writer;
GRANT CONNECT ON DATABASE churn_store TO churn_reader;

\connect churn_store
REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO churn_reader;
-- Tables the writer creates later (Alembic) are readable by the reader; existing ones too.
ALTER DEFAULT PRIVILEGES FOR ROLE churn_writer IN SCHEMA public GRANT SELECT ON TABLES TO churn_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO churn_reader;
REVOKE churn_writer FROM CURRENT_USER;

-- MLflow's backend store (docs/docker.md, "MLflow on PostgreSQL"), only when asked for.
\connect postgres
\getenv mlflow_password MLFLOW_DB_PASSWORD
\if :{?mlflow_password}
SELECT length(:'mlflow_password') > 0 AS with_mlflow \gset
\else
\set with_mlflow false
\endif
\if :with_mlflow
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlflow') AS create_mlflow_role,
       NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow') AS create_mlflow_db \gset
\if :create_mlflow_role
CREATE ROLE mlflow;
\endif
ALTER ROLE mlflow WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'mlflow_password';
\if :create_mlflow_db
GRANT mlflow TO CURRENT_USER;
CREATE DATABASE mlflow OWNER mlflow;
REVOKE mlflow FROM CURRENT_USER;
\endif
\endif
-- MLflow's database (compose's optional one, or the RDS instance's own): no PUBLIC access,
-- so the store's roles cannot connect to it.
SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow') AS has_mlflow_db \gset
\if :has_mlflow_db
REVOKE ALL ON DATABASE mlflow FROM PUBLIC;
\endif
