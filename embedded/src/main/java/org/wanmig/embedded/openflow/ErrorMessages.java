package org.wanmig.embedded.openflow;

import org.projectfloodlight.openflow.protocol.OFErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFBadActionErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFBadInstructionErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFBadMatchErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFBadRequestErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFFlowModFailedErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFHelloFailedErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFSwitchConfigFailedErrorMsg;
import org.projectfloodlight.openflow.protocol.errormsg.OFTableModFailedErrorMsg;

/** Human-readable text for OpenFlow error messages ("FLOW_MOD_FAILED/BAD_TABLE_ID"). */
final class ErrorMessages {
    private ErrorMessages() {
    }

    static String describe(OFErrorMsg error) {
        return error.getErrType() + "/" + code(error);
    }

    // openflowj gives each error type its own class and code enum, with no common accessor.
    private static Object code(OFErrorMsg error) {
        if (error instanceof OFFlowModFailedErrorMsg) {
            return ((OFFlowModFailedErrorMsg) error).getCode();
        }
        if (error instanceof OFBadActionErrorMsg) {
            return ((OFBadActionErrorMsg) error).getCode();
        }
        if (error instanceof OFBadMatchErrorMsg) {
            return ((OFBadMatchErrorMsg) error).getCode();
        }
        if (error instanceof OFBadInstructionErrorMsg) {
            return ((OFBadInstructionErrorMsg) error).getCode();
        }
        if (error instanceof OFBadRequestErrorMsg) {
            return ((OFBadRequestErrorMsg) error).getCode();
        }
        if (error instanceof OFHelloFailedErrorMsg) {
            return ((OFHelloFailedErrorMsg) error).getCode();
        }
        if (error instanceof OFSwitchConfigFailedErrorMsg) {
            return ((OFSwitchConfigFailedErrorMsg) error).getCode();
        }
        if (error instanceof OFTableModFailedErrorMsg) {
            return ((OFTableModFailedErrorMsg) error).getCode();
        }
        return "?";
    }
}
