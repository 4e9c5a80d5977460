// Short notification tones for the staff console, made on the spot with
// WebAudio: no sound file, nothing fetched. Browsers only let a page make
// sound after someone interacted with it, so the audio context is created
// (or resumed) on the first click or key press.

let ctx = null;

function context() {
  if (ctx) return ctx;
  const Ctor = window.AudioContext || window.webkitAudioContext;
  if (!Ctor) return null;
  try { ctx = new Ctor(); } catch { ctx = null; }
  return ctx;
}

// Call from a user gesture (click, key press): afterwards tones can play.
export function unlockSound() {
  const c = context();
  if (c && c.state === 'suspended') c.resume().catch(() => {});
}

// One soft tone: frequency in Hz, start and length in seconds from now.
function tone(c, freq, start, length, volume) {
  const osc = c.createOscillator();
  const gain = c.createGain();
  const t0 = c.currentTime + start;
  osc.type = 'sine';
  osc.frequency.setValueAtTime(freq, t0);
  // A quick rise and a gentle fall, so the tone does not click.
  gain.gain.setValueAtTime(0.0001, t0);
  gain.gain.exponentialRampToValueAtTime(volume, t0 + 0.015);
  gain.gain.exponentialRampToValueAtTime(0.0001, t0 + length);
  osc.connect(gain).connect(c.destination);
  osc.start(t0);
  osc.stop(t0 + length + 0.02);
}

// kind 'offer': two rising tones (someone is waiting); 'message': one short
// tone. Returns whether a sound was started.
export function playTone(kind) {
  const c = context();
  if (!c || c.state !== 'running') return false;
  if (kind === 'offer') {
    tone(c, 660, 0, 0.18, 0.18);
    tone(c, 880, 0.2, 0.26, 0.18);
  } else {
    tone(c, 740, 0, 0.14, 0.12);
  }
  return true;
}
