// Getting a counselor's attention: a short beep made with WebAudio (no sound files), the page
// title and favicon with a badge, and a browser notification where the browser allows it.

const ICON = '/console/favicon.svg';
const ICON_BADGE = '/console/favicon-badge.svg';

let audio = null;

/** Create (or wake) the audio context. Call it from a click or key press: browsers allow sound after one. */
export function unlockAudio() {
  try {
    if (!audio) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      audio = new Ctx();
    }
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

/** Two short tones; `urgent` makes them higher and three. Returns whether a sound was played. */
export function beep(urgent = false) {
  if (!audio || audio.state !== 'running') return false;
  const now = audio.currentTime;
  const tones = urgent ? [880, 1175, 880] : [660, 880];
  tones.forEach((frequency, i) => {
    const start = now + i * 0.18;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.25, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(start);
    osc.stop(start + 0.16);
  });
  beep.count = (beep.count || 0) + 1;
  return true;
}

let badged = null;
/** The favicon with or without its red badge. */
export function setBadge(on) {
  if (badged === on) return;
  badged = on;
  const link = document.getElementById('favicon');
  if (link) link.setAttribute('href', on ? ICON_BADGE : ICON);
  document.documentElement.dataset.badge = on ? 'on' : 'off';
}

export function notificationState() {
  if (!('Notification' in window)) return 'unsupported';
  return Notification.permission; // default | granted | denied
}

export async function askNotifications() {
  if (!('Notification' in window)) return 'unsupported';
  try {
    return await Notification.requestPermission();
  } catch {
    return Notification.permission;
  }
}

let shown = null;
/** One notification at a time (same tag replaces); clicking it brings the console forward. */
export function notify(title, body, tag = 'helpline-console') {
  if (notificationState() !== 'granted') return false;
  try {
    shown?.close();
    shown = new Notification(title, { body, tag, renotify: true, silent: true, icon: ICON });
    shown.onclick = () => {
      window.focus();
      shown?.close();
    };
    return true;
  } catch {
    return false;
  }
}

export function closeNotification() {
  shown?.close();
  shown = null;
}
