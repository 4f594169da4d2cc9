// English and Simplified Chinese. The language comes from the browser
// (navigator.language) until the person picks one, which is remembered.
import { useEffect, useState } from 'preact/hooks';

const en = {
  'nav.skip': 'Skip to content', 'nav.homeLabel': 'reel home', 'nav.main': 'Main', 'nav.home': 'Home', 'nav.upload': 'Upload',
  'nav.messages': 'Messages', 'nav.profile': 'Profile', 'nav.account': 'Account', 'nav.language': 'Language',
  'title.upload': 'Upload', 'title.messages': 'Messages', 'title.account': 'Account', 'title.video': 'Video', 'title.profile': 'Profile', 'title.none': 'Not found',
  'notFound.title': 'There is nothing here', 'notFound.home': 'Go to the feed',
  'feed.tabs': 'Feeds', 'feed.everyone': 'For you', 'feed.following': 'Following', 'feed.label': 'Videos',
  'feed.itemLabel': '{title} by @{name}', 'feed.next': 'Next video', 'feed.prev': 'Previous video',
  'feed.empty': 'No videos yet. Be the first:', 'feed.noFollowing': 'Nobody you follow has posted a video yet.',
  'feed.signInFollowing': 'Sign in to see videos from the people you follow.',
  'player.play': 'Play', 'player.pause': 'Pause', 'player.mute': 'Mute', 'player.unmute': 'Turn sound on',
  'video.untitled': 'Untitled', 'video.title': 'Video', 'video.actions': 'Video actions', 'video.views': '{n} view|{n} views',
  'video.noMedia': 'This video cannot be played.', 'video.notReady': 'This video is still being processed.',
  'video.manage': 'Manage video', 'video.manageOnProfile': 'Edit on my profile', 'video.delete': 'Delete video',
  'video.confirmDelete': 'Delete this video for good?', 'video.edit': 'Edit', 'video.editName': 'Edit {title}',
  'like.like': 'Like',
  'comments.title': 'Comments', 'comments.titleN': 'Comments ({n})', 'comments.openN': 'Comments ({n})',
  'comments.add': 'Add a comment', 'comments.post': 'Post comment', 'comments.delete': 'Delete', 'comments.deleteBy': 'Delete comment by {name}',
  'comments.none': 'No comments yet.', 'comments.more': 'More comments',
  'share.copy': 'Copy link', 'share.short': 'Link', 'share.copied': 'Link copied', 'share.here': 'Link: {url}',
  'follow.follow': 'Follow', 'follow.following': 'Following',
  'admin.block': 'Block video', 'admin.unblock': 'Unblock video', 'admin.blocked': 'The video is blocked.', 'admin.unblocked': 'The video is unblocked.',
  'admin.blockedList': 'Blocked videos', 'admin.noneBlocked': 'No video is blocked.', 'admin.isBlocked': 'Blocked: only its owner and administrators see it.',
  'status.uploading': 'Uploading', 'status.processing': 'Processing', 'status.ready': 'Ready', 'status.failed': 'Failed',
  'vis.public': 'Public', 'vis.unlisted': 'Unlisted (only with the link)', 'vis.private': 'Private (only me)',
  'field.title': 'Title', 'field.description': 'Description', 'field.visibility': 'Visibility', 'field.username': 'Username',
  'field.password': 'Password', 'field.old_password': 'Current password', 'field.new_password': 'New password', 'field.text': 'Text',
  'upload.title': 'Upload a video', 'upload.signIn': 'Sign in to upload videos.', 'upload.drop': 'Drop a video here, or choose one',
  'upload.choose': 'Choose file', 'upload.file': 'Video file', 'upload.start': 'Upload', 'upload.resume': 'Resume upload', 'upload.pause': 'Pause upload',
  'upload.progress': 'Upload progress', 'upload.sent': '{pct}% ({sent} of {total})', 'upload.speed': '{speed}/s', 'upload.left': '{time} left',
  'upload.waitingNet': 'waiting for the connection', 'upload.stalled': 'The connection dropped. The upload will go on from where it stopped.',
  'upload.processing': 'Processing progress', 'upload.processingN': 'Uploaded. Processing the video… {pct}%', 'upload.done': 'Done',
  'upload.readyMsg': 'Your video is ready.', 'upload.open': 'Watch it', 'upload.another': 'Upload another video',
  'upload.failed': 'Processing failed: {reason}', 'upload.deleted': 'The video was deleted.',
  'upload.unfinished': 'Unfinished uploads', 'upload.pendingOne': '{name} ({size})', 'upload.forget': 'Discard',
  'upload.pickSame': 'Choose the same file again to go on from where it stopped.',
  'upload.willResume': 'This file was partly uploaded before: the upload will go on from where it stopped.',
  'upload.resumedAt': 'Resumed at {pct}%.', 'upload.leave': 'An upload is in progress. Leave and stop it?', 'upload.running': 'Uploading {pct}%',
  'upload.tooLargeLocal': 'This file is too large ({size}); the largest video you can upload is {max}.',
  'upload.notVideoLocal': '“{name}” is not a video file. Choose a video (MP4, MOV, WebM…).',
  'profile.counts': 'Counts', 'profile.following': 'following', 'profile.followers': 'follower|followers', 'profile.likesReceived': 'like|likes',
  'profile.videos': 'video|videos', 'profile.sections': 'Profile sections', 'profile.tab.videos': 'Videos', 'profile.tab.likes': 'Liked',
  'profile.tab.followers': 'Followers', 'profile.tab.following': 'Following', 'profile.noVideos': 'No videos here yet.',
  'profile.noUsers': 'Nobody yet.', 'profile.nFollowers': '{n} follower|{n} followers',
  'msg.send': 'Message', 'msg.sendBtn': 'Send', 'msg.label': 'Write a message', 'msg.with': 'Chat with @{name}',
  'msg.conversation': 'Conversation with {name}', 'msg.you': 'You', 'msg.none': 'No messages yet. Say hello!',
  'msg.signIn': 'Sign in to see your messages.', 'msg.friendsOnly': 'You can chat with friends: people who follow you and whom you follow.',
  'msg.noFriends': 'No friends yet. Follow people who follow you back.',
  'auth.signIn': 'Sign in', 'auth.signUp': 'Sign up', 'auth.signOut': 'Sign out', 'auth.signOutAll': 'End all sessions',
  'auth.haveAccount': 'Already have an account?', 'auth.noAccount': 'New to reel?',
  'auth.usernameHint': '3 to 32 letters or digits; _ . - allowed.', 'auth.passwordHint': 'At least 6 characters.',
  'account.signedOut': 'You are not signed in.', 'account.signedInAs': 'Signed in as', 'account.changePassword': 'Change password',
  'account.changed': 'Your password is changed. Other devices are signed out.', 'account.wrongOld': 'The current password is wrong.',
  'common.loading': 'Loading…', 'common.close': 'Close', 'common.retry': 'Try again', 'common.more': 'Show more', 'common.save': 'Save',
  'common.cancel': 'Cancel', 'common.yesDelete': 'Yes, delete',
  'toast.message': 'New message', 'toast.follow': 'You have a new follower', 'toast.ready': 'Your video is ready', 'toast.failed': 'A video could not be processed',
  'err.network': 'Cannot reach reel. Check your connection and try again.', 'err.badPair': 'Wrong username or password.',
  'err.signin': 'Please sign in first.', 'err.forbidden': 'You are not allowed to do that.', 'err.notFound': 'Not found: it may have been deleted or made private.',
  'err.taken': 'This username is taken. Try another one.', 'err.tooLarge': 'The file is too large for reel.',
  'err.quota': 'You have used all your storage: delete some videos to upload more.', 'err.notVideo': 'This file is not a video reel can play.',
  'err.invalid': 'Please check: {detail}', 'err.rate': 'Too many attempts. Please wait a little and try again.',
  'err.rateRetry': 'Too many attempts. Please try again in {s}.', 'err.busy': 'reel is busy right now. Please try again shortly.',
  'err.busyRetry': 'reel is busy right now. Please try again in {s}.', 'err.storage': 'The server is out of space for uploads right now.',
  'err.internal': 'Something went wrong on the server. Please try again.',
  'unit.seconds': '{n} s', 'unit.minutes': '{n} min', 'unit.hours': '{n} h',
};

const zh = {
  'nav.skip': '跳到内容', 'nav.homeLabel': 'reel 首页', 'nav.main': '主导航', 'nav.home': '首页', 'nav.upload': '上传',
  'nav.messages': '消息', 'nav.profile': '我的', 'nav.account': '账号', 'nav.language': '语言',
  'title.upload': '上传', 'title.messages': '消息', 'title.account': '账号', 'title.video': '视频', 'title.profile': '主页', 'title.none': '未找到',
  'notFound.title': '这里什么也没有', 'notFound.home': '回到推荐',
  'feed.tabs': '视频流', 'feed.everyone': '推荐', 'feed.following': '关注', 'feed.label': '视频',
  'feed.itemLabel': '{title}，作者 @{name}', 'feed.next': '下一个视频', 'feed.prev': '上一个视频',
  'feed.empty': '还没有视频。来发第一个：', 'feed.noFollowing': '你关注的人还没有发布视频。', 'feed.signInFollowing': '登录后查看你关注的人的视频。',
  'player.play': '播放', 'player.pause': '暂停', 'player.mute': '静音', 'player.unmute': '打开声音',
  'video.untitled': '无标题', 'video.title': '视频', 'video.actions': '视频操作', 'video.views': '{n} 次播放',
  'video.noMedia': '这个视频无法播放。', 'video.notReady': '这个视频还在处理中。',
  'video.manage': '管理视频', 'video.manageOnProfile': '在我的主页编辑', 'video.delete': '删除视频',
  'video.confirmDelete': '确定永久删除这个视频吗？', 'video.edit': '编辑', 'video.editName': '编辑 {title}',
  'like.like': '点赞',
  'comments.title': '评论', 'comments.titleN': '评论（{n}）', 'comments.openN': '评论（{n}）',
  'comments.add': '写评论', 'comments.post': '发表评论', 'comments.delete': '删除', 'comments.deleteBy': '删除 {name} 的评论',
  'comments.none': '还没有评论。', 'comments.more': '更多评论',
  'share.copy': '复制链接', 'share.short': '链接', 'share.copied': '链接已复制', 'share.here': '链接：{url}',
  'follow.follow': '关注', 'follow.following': '已关注',
  'admin.block': '屏蔽视频', 'admin.unblock': '解除屏蔽', 'admin.blocked': '视频已屏蔽。', 'admin.unblocked': '视频已解除屏蔽。',
  'admin.blockedList': '已屏蔽的视频', 'admin.noneBlocked': '没有被屏蔽的视频。', 'admin.isBlocked': '已屏蔽：只有作者和管理员能看到。',
  'status.uploading': '上传中', 'status.processing': '处理中', 'status.ready': '已就绪', 'status.failed': '失败',
  'vis.public': '公开', 'vis.unlisted': '不公开（凭链接观看）', 'vis.private': '私密（仅自己）',
  'field.title': '标题', 'field.description': '简介', 'field.visibility': '可见范围', 'field.username': '用户名',
  'field.password': '密码', 'field.old_password': '当前密码', 'field.new_password': '新密码', 'field.text': '内容',
  'upload.title': '上传视频', 'upload.signIn': '登录后才能上传视频。', 'upload.drop': '把视频拖到这里，或选择文件',
  'upload.choose': '选择文件', 'upload.file': '视频文件', 'upload.start': '上传', 'upload.resume': '继续上传', 'upload.pause': '暂停上传',
  'upload.progress': '上传进度', 'upload.sent': '{pct}%（{sent} / {total}）', 'upload.speed': '{speed}/秒', 'upload.left': '剩余 {time}',
  'upload.waitingNet': '等待网络连接', 'upload.stalled': '网络断开了。恢复后会从中断处继续上传。',
  'upload.processing': '处理进度', 'upload.processingN': '已上传，正在处理视频… {pct}%', 'upload.done': '完成',
  'upload.readyMsg': '你的视频已就绪。', 'upload.open': '去观看', 'upload.another': '再上传一个',
  'upload.failed': '处理失败：{reason}', 'upload.deleted': '视频已被删除。',
  'upload.unfinished': '未完成的上传', 'upload.pendingOne': '{name}（{size}）', 'upload.forget': '放弃',
  'upload.pickSame': '重新选择同一个文件，即可从中断处继续。', 'upload.willResume': '这个文件之前上传了一部分，将从中断处继续。',
  'upload.resumedAt': '已从 {pct}% 处继续。', 'upload.leave': '正在上传，离开会中断上传，确定离开吗？', 'upload.running': '上传中 {pct}%',
  'upload.tooLargeLocal': '文件太大（{size}），最多可以上传 {max}。', 'upload.notVideoLocal': '“{name}”不是视频文件。请选择视频（MP4、MOV、WebM…）。',
  'profile.counts': '统计', 'profile.following': '关注', 'profile.followers': '粉丝', 'profile.likesReceived': '获赞',
  'profile.videos': '作品', 'profile.sections': '主页栏目', 'profile.tab.videos': '作品', 'profile.tab.likes': '喜欢',
  'profile.tab.followers': '粉丝', 'profile.tab.following': '关注', 'profile.noVideos': '这里还没有视频。',
  'profile.noUsers': '还没有人。', 'profile.nFollowers': '{n} 个粉丝',
  'msg.send': '发消息', 'msg.sendBtn': '发送', 'msg.label': '输入消息', 'msg.with': '与 @{name} 聊天',
  'msg.conversation': '与 {name} 的对话', 'msg.you': '我', 'msg.none': '还没有消息，打个招呼吧！',
  'msg.signIn': '登录后查看消息。', 'msg.friendsOnly': '你可以和朋友聊天：互相关注的人。', 'msg.noFriends': '还没有朋友。关注那些也关注你的人吧。',
  'auth.signIn': '登录', 'auth.signUp': '注册', 'auth.signOut': '退出登录', 'auth.signOutAll': '退出所有设备',
  'auth.haveAccount': '已有账号？', 'auth.noAccount': '第一次用 reel？',
  'auth.usernameHint': '3 到 32 个字母或数字，可用 _ . -。', 'auth.passwordHint': '至少 6 个字符。',
  'account.signedOut': '你还没有登录。', 'account.signedInAs': '当前登录：', 'account.changePassword': '修改密码',
  'account.changed': '密码已修改，其他设备已退出登录。', 'account.wrongOld': '当前密码不正确。',
  'common.loading': '加载中…', 'common.close': '关闭', 'common.retry': '重试', 'common.more': '显示更多', 'common.save': '保存',
  'common.cancel': '取消', 'common.yesDelete': '确定删除',
  'toast.message': '有新消息', 'toast.follow': '有新粉丝', 'toast.ready': '你的视频已就绪', 'toast.failed': '有视频处理失败',
  'err.network': '无法连接 reel，请检查网络后重试。', 'err.badPair': '用户名或密码错误。',
  'err.signin': '请先登录。', 'err.forbidden': '你没有权限这样做。', 'err.notFound': '找不到：可能已被删除或设为私密。',
  'err.taken': '用户名已被占用，换一个吧。', 'err.tooLarge': '文件太大，超过了 reel 的上限。',
  'err.quota': '你的存储空间已用完：删除一些视频后再上传。', 'err.notVideo': '这个文件不是 reel 能播放的视频。',
  'err.invalid': '请检查：{detail}', 'err.rate': '尝试次数太多，请稍后再试。', 'err.rateRetry': '尝试次数太多，请 {s} 后再试。',
  'err.busy': 'reel 现在很忙，请稍后再试。', 'err.busyRetry': 'reel 现在很忙，请 {s} 后再试。', 'err.storage': '服务器暂时没有空间接收上传。',
  'err.internal': '服务器出错了，请重试。',
  'unit.seconds': '{n} 秒', 'unit.minutes': '{n} 分钟', 'unit.hours': '{n} 小时',
};

const dicts = { en, zh };
export const LANGS = [['en', 'English'], ['zh', '简体中文']];
const KEY = 'reel.lang';

function initial() {
  try { const s = localStorage.getItem(KEY); if (s && dicts[s]) return s; } catch { /* storage off */ }
  const nav = (navigator.languages && navigator.languages[0]) || navigator.language || 'en';
  return /^zh\b/i.test(nav) ? 'zh' : 'en';
}
let lang = initial();
const subs = new Set();
export const getLang = () => lang;
export function setLang(l) {
  if (!dicts[l]) return;
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* storage off */ }
  subs.forEach((f) => f(l));
}
export function useLang() {
  const [l, set] = useState(lang);
  useEffect(() => { subs.add(set); return () => subs.delete(set); }, []);
  return l;
}

// Forms that depend on a number are written "one|other" (English); t picks
// the form for params.count by the language's plural rules. Chinese has one.
const rules = {};
function plural(s, count) {
  const forms = s.split('|');
  if (forms.length < 2 || count === undefined) return forms[forms.length - 1];
  let one = count === 1;
  try { one = (rules[lang] ||= new Intl.PluralRules(lang)).select(count) === 'one'; } catch { /* old browser */ }
  return one ? forms[0] : forms[1];
}

export function t(key, params) {
  let s = plural(dicts[lang][key] ?? en[key] ?? key, params && params.count);
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  return s;
}

export function fmtCount(n) {
  n = n || 0;
  if (lang === 'zh') return n >= 10000 ? (n / 10000).toFixed(n >= 100000 ? 0 : 1) + '万' : String(n);
  if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M';
  if (n >= 1e3) return (n / 1e3).toFixed(n >= 1e4 ? 0 : 1) + 'K';
  return String(n);
}
export function fmtBytes(b) {
  if (b < 1024) return Math.round(b) + ' B';
  const u = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { b /= 1024; i++; } while (b >= 1024 && i < u.length - 1);
  return b.toFixed(b >= 100 ? 0 : 1) + ' ' + u[i];
}
export function fmtDuration(ms) {
  const s = Math.round(ms / 1000);
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}
export function fmtTime(iso) {
  try {
    return new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
  } catch { return iso; }
}
