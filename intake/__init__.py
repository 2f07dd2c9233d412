"""Every door into the same tickets (issue 17): the public intake (web form, mini-programs,
SMS gateway, app), its abuse guard and code confirmation, and 留言 batches imported from other
platforms. Each message becomes a 受理 ticket drafted by the same builder as a call."""
