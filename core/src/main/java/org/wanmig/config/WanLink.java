package org.wanmig.config;

import org.onosproject.net.ConnectPoint;

import java.util.Objects;

/** A bidirectional WAN link between two switch ports; links marked down carry no path. */
public final class WanLink {
    private final ConnectPoint one;
    private final ConnectPoint two;
    private final boolean up;

    public WanLink(ConnectPoint one, ConnectPoint two, boolean up) {
        this.one = Objects.requireNonNull(one);
        this.two = Objects.requireNonNull(two);
        this.up = up;
    }

    public ConnectPoint one() {
        return one;
    }

    public ConnectPoint two() {
        return two;
    }

    public boolean isUp() {
        return up;
    }

    public WanLink withUp(boolean newUp) {
        return new WanLink(one, two, newUp);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WanLink && ((WanLink) o).one.equals(one) && ((WanLink) o).two.equals(two)
                && ((WanLink) o).up == up;
    }

    @Override
    public int hashCode() {
        return Objects.hash(one, two, up);
    }

    @Override
    public String toString() {
        return one + "<->" + two + (up ? "" : " (down)");
    }
}
