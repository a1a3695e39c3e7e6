// Front ends import StateStore alone and get the types its API speaks in.
@_exported import Postgres
@_exported import StateJSON
@_exported import StateConfig
