// Keyboard moves of the unit on a map (the lens, the unit-field panel): arrows move it, Home and
// End go to the first and last unit, Page Up / Page Down change the channel (where the map has
// channels), Enter or Space pick it. On a vector (a 1x1 map) the arrows step through channels.

// The unit {c, y, x} after key event ev on a C x H x W map (clamped inside it), "pick", or null
// when the key is not one of these (left to the browser). channels: whether c may change.
function keyMove(ev, unit, [C, H, W], channels = true) {
  let { c, y, x } = unit;
  const vector = channels && H === 1 && W === 1;
  switch (ev.key) {
    case "ArrowUp": if (vector) c -= 1; else y -= 1; break;
    case "ArrowDown": if (vector) c += 1; else y += 1; break;
    case "ArrowLeft": if (vector) c -= 1; else x -= 1; break;
    case "ArrowRight": if (vector) c += 1; else x += 1; break;
    case "PageUp": if (!channels) return null; c -= 1; break;
    case "PageDown": if (!channels) return null; c += 1; break;
    case "Home": y = 0; x = 0; break;
    case "End": y = H - 1; x = W - 1; break;
    case "Enter": case " ": ev.preventDefault(); return "pick";
    default: return null;
  }
  ev.preventDefault();
  return { c: Math.max(0, Math.min(C - 1, c)), y: Math.max(0, Math.min(H - 1, y)),
    x: Math.max(0, Math.min(W - 1, x)) };
}
