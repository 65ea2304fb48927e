package org.wanmig.api;

/** Told of every transition, after the new record is stored. */
@FunctionalInterface
public interface MigrationListener {
    void transitioned(Migration migration);
}
