package org.wanmig.planner;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CookiesTest {

    @Test
    void fieldsRoundTrip() {
        long c = Cookies.cookie(Cookies.KIND_MIGRATION, (1 << 24) - 1, (1 << 20) - 1);
        assertTrue(Cookies.isOurs(c));
        assertEquals(Cookies.KIND_MIGRATION, Cookies.kind(c));
        assertEquals((1 << 24) - 1, Cookies.owner(c));
        assertTrue(Cookies.ofMigration(c, (1 << 24) - 1));
    }

    @Test
    void ofMigrationChecksKindAndOwner() {
        assertFalse(Cookies.ofMigration(Cookies.cookie(Cookies.KIND_SERVER_ROUTE, 5, 0), 5));
        assertFalse(Cookies.ofMigration(Cookies.cookie(Cookies.KIND_MIGRATION, 6, 0), 5));
    }

    @Test
    void ofMigrationHoldsForAnyAppIdButIsOursOnlyForTheEmbeddedOne() {
        long onosApp = Cookies.cookie((short) 0x00A7, Cookies.KIND_MIGRATION, 5, 3);
        assertTrue(Cookies.ofMigration(onosApp, 5));
        assertFalse(Cookies.isOurs(onosApp));
        assertTrue(Cookies.isOurs(Cookies.cookie(Cookies.KIND_MIGRATION, 5, 3)));
    }

    @Test
    void outOfRangeFieldsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Cookies.cookie(Cookies.KIND_MIGRATION, 1 << 24, 0));
        assertThrows(IllegalArgumentException.class, () -> Cookies.cookie(Cookies.KIND_MIGRATION, 1, 1 << 20));
    }
}
