package org.wanmig.embedded.openflow;

import org.projectfloodlight.openflow.protocol.OFErrorMsg;
import org.projectfloodlight.openflow.protocol.OFFlowMod;

import java.util.Objects;

/** A flow-mod the switch refused, with the error it answered. Immutable. */
public final class FlowModFailure {
    private final OFFlowMod flowMod;
    private final OFErrorMsg error;

    FlowModFailure(OFFlowMod flowMod, OFErrorMsg error) {
        this.flowMod = Objects.requireNonNull(flowMod);
        this.error = Objects.requireNonNull(error);
    }

    public OFFlowMod flowMod() {
        return flowMod;
    }

    public OFErrorMsg error() {
        return error;
    }

    public long cookie() {
        return flowMod.getCookie().getValue();
    }

    /** "FLOW_MOD_FAILED/BAD_TABLE_ID", for messages. */
    public String describe() {
        return ErrorMessages.describe(error);
    }

    @Override
    public String toString() {
        return flowMod.getCommand() + " cookie 0x" + Long.toHexString(cookie()) + ": " + describe();
    }
}
