package org.wanmig.replication.core;

/** Which copy of a disk serves writes. Exactly one side of a pair should be PRIMARY. */
public enum Role {
    PRIMARY,
    REPLICA
}
