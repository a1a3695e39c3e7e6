@_exported import Postgres
