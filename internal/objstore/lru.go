package objstore

// lruList is an intrusive doubly linked list of entries in the order of
// their last use, most recent at the front, with their total size. It
// allocates nothing per entry.
type lruList struct {
	front, tail *entry
	bytes       int64
}

func (l *lruList) pushFront(e *entry) {
	e.prev, e.next = nil, l.front
	if l.front != nil {
		l.front.prev = e
	} else {
		l.tail = e
	}
	l.front = e
	e.list = l
	l.bytes += e.size
}

func (l *lruList) pushBack(e *entry) {
	e.prev, e.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.front = e
	}
	l.tail = e
	e.list = l
	l.bytes += e.size
}

func (l *lruList) remove(e *entry) {
	if e.list != l {
		return
	}
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.front = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next, e.list = nil, nil, nil
	l.bytes -= e.size
}

func (l *lruList) moveToFront(e *entry) {
	if l.front == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}

// back returns the least recently used entry; walk on with e.prev.
func (l *lruList) back() *entry { return l.tail }
