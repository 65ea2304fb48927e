package org.wanmig.replication.control;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * Jazzer target for the control API's body parsing: any byte string either yields a JSON object or
 * a BadRequest (400), never another exception or a StackOverflowError.
 */
class ControlJsonFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void body(byte[] input) {
        try {
            JsonNode n = ControlServer.parseBody(input, "mode");
            if (!n.isObject()) {
                throw new AssertionError("not an object: " + n);
            }
        } catch (ControlServer.BadRequest expected) {
            // 400
        }
    }
}
